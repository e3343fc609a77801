#include "tools/jalonctl/output.h"

#include <algorithm>

#include "services/common/csv.h"
#include "tools/jalonctl/errors.h"
#include "tools/jalonctl/fields.h"

namespace jalon::ctl {
namespace {

// Display width: code points (continuation bytes not counted).
size_t Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// The first `width` display columns of `s`, ending in "…" when cut.
std::string Fit(const std::string& s, size_t width) {
  if (Width(s) <= width) return s;
  if (width == 0) return "";
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (n == width - 1) break;
      ++n;
    }
    out.push_back(s[i]);
  }
  return out + "…";
}

std::vector<std::vector<std::string>> Rows(
    const std::vector<const google::protobuf::Message*>& items,
    const std::vector<Column>& columns) {
  std::vector<std::vector<std::string>> rows;
  for (const auto* item : items) {
    std::vector<std::string> row;
    for (const Column& c : columns) row.push_back(FieldText(*item, c.path));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::string> Headers(const std::vector<Column>& columns) {
  std::vector<std::string> h;
  for (const Column& c : columns) h.push_back(c.header);
  return h;
}

}  // namespace

std::string OneLine(std::string s) {
  // Line breaks and tabs become spaces; other control characters (ESC and
  // the rest, which a terminal would obey: user text may hold them) become
  // '?'. So do the C1 controls, U+0080..U+009F (0xC2 0x80..0x9F in UTF-8).
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else if (c == 0xc2 && i + 1 < s.size() &&
               static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
      out += '?';
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Format ParseFormat(const std::string& text) {
  if (text == "table") return Format::kTable;
  if (text == "json") return Format::kJson;
  if (text == "yaml") return Format::kYaml;
  if (text == "csv") return Format::kCsv;
  UsageError("-o: \"" + text + "\" is not one of table, json, yaml, csv");
}

std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows,
                        size_t max_width) {
  const size_t n = headers.size();
  const size_t gap = 2;
  std::vector<size_t> widths(n, 0);
  for (size_t i = 0; i < n; ++i) widths[i] = Width(headers[i]);
  for (const auto& row : rows) {
    for (size_t i = 0; i < n && i < row.size(); ++i) {
      widths[i] = std::max(widths[i], Width(OneLine(row[i])));
    }
  }
  auto total = [&] {
    size_t t = 0;
    for (size_t w : widths) t += w;
    return t + (n > 0 ? gap * (n - 1) : 0);
  };
  // Narrow the widest column until the table fits: first down to 20
  // columns (enough for every status name), then down to 6. The ID column
  // is kept whole: it is what users copy into the next command.
  for (size_t floor : {size_t{20}, size_t{6}}) {
    while (total() > max_width) {
      size_t widest = n;
      for (size_t i = 0; i < n; ++i) {
        if (headers[i] == "ID") continue;
        if (widest == n || widths[i] > widths[widest]) widest = i;
      }
      if (widest == n ||
          widths[widest] <= std::max(floor, Width(headers[widest]))) {
        break;
      }
      --widths[widest];
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < n; ++i) {
      std::string cell =
          Fit(OneLine(i < cells.size() ? cells[i] : ""), widths[i]);
      l += cell;
      if (i + 1 < n) l += std::string(widths[i] - Width(cell) + gap, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(headers);
  for (const auto& row : rows) line(row);
  return out;
}

std::string RenderCsv(const std::vector<std::string>& headers,
                      const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += ',';
      out += CsvField(cells[i]);
    }
    out += "\r\n";
  };
  line(headers);
  for (const auto& row : rows) line(row);
  return out;
}

void Printer::List(const std::vector<const google::protobuf::Message*>& items,
                   const std::vector<Column>& columns) {
  switch (format_) {
    case Format::kTable:
      out_ << RenderTable(Headers(columns), Rows(items, columns));
      break;
    case Format::kCsv:
      out_ << RenderCsv(Headers(columns), Rows(items, columns));
      break;
    case Format::kJson:
    case Format::kYaml: {
      std::string json = "[";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) json += ",";
        json += ToJson(*items[i], false);
      }
      json += "]";
      if (format_ == Format::kYaml) {
        out_ << (items.empty() ? "[]\n" : JsonToYaml(json));
      } else {
        // Re-indent through one pretty print per item for readability.
        out_ << "[";
        for (size_t i = 0; i < items.size(); ++i) {
          out_ << (i > 0 ? ",\n" : "\n") << ToJson(*items[i], true);
        }
        out_ << (items.empty() ? "]\n" : "\n]\n");
      }
      break;
    }
  }
  out_.flush();
}

std::vector<Column> Nested(const std::string& field,
                           const std::vector<Column>& columns,
                           const std::vector<Column>& more) {
  std::vector<Column> out;
  for (const Column& c : columns)
    out.push_back({c.header, field + "." + c.path});
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

void Printer::One(const google::protobuf::Message& item,
                  const std::vector<Column>& columns) {
  switch (format_) {
    case Format::kTable:
    case Format::kCsv:
      List({&item}, columns);
      return;
    case Format::kJson:
      out_ << ToJson(item, true) << "\n";
      break;
    case Format::kYaml:
      out_ << JsonToYaml(ToJson(item, false));
      break;
  }
  out_.flush();
}

}  // namespace jalon::ctl
