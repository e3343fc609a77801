// The import file's parser against files broken at random: whatever the
// file holds, parsing returns (never throws, never crashes) and every
// problem it reports names the file and a line, as docs/cli.md promises.
#include "tools/jalonctl/import_file.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifndef JALON_EXAMPLE_ROADMAP
#error "JALON_EXAMPLE_ROADMAP must name examples/roadmap-2016.yaml"
#endif

namespace jalon::ctl {
namespace {

std::string ReadExample() {
  std::ifstream in(JALON_EXAMPLE_ROADMAP);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The problems ParseImportFile reports for the example with `edit` made to
// it, one per line ("" when none).
std::string ProblemsWith(const std::function<void(YAML::Node&)>& edit) {
  YAML::Node doc = YAML::Load(ReadExample());
  edit(doc);
  YAML::Emitter out;
  out << doc;
  std::vector<std::string> errors;
  ParseImportFile("f.yaml", out.c_str(), &errors);
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  return all;
}

// Every node of a document, the root included.
void Collect(YAML::Node node, std::vector<YAML::Node>* out) {
  out->push_back(node);
  if (node.IsSequence()) {
    for (auto child : node) Collect(child, out);
  } else if (node.IsMap()) {
    for (auto kv : node) Collect(kv.second, out);
  }
}

// A node to put where another was: of another shape, or a value at the
// edge of what a field takes.
YAML::Node Replacement(std::mt19937_64& rng) {
  static const std::vector<std::function<YAML::Node()>> kinds = {
      [] { return YAML::Node(); },  // null
      [] { return YAML::Node(""); },
      [] { return YAML::Node("2016-02-30"); },
      [] { return YAML::Node("9999-99-99"); },
      [] { return YAML::Node(-1); },
      [] { return YAML::Node(1e308); },
      [] { return YAML::Node(".nan"); },
      [] { return YAML::Node("no-such-key"); },
      [] { return YAML::Node(std::string(5000, 'x')); },
      [] { return YAML::Node("<script>x</script>"); },
      [] { return YAML::Node(true); },
      [] {
        YAML::Node seq(YAML::NodeType::Sequence);
        seq.push_back("a");
        seq.push_back(2);
        return seq;
      },
      [] {
        YAML::Node map(YAML::NodeType::Map);
        map["key"] = "dup";
        map["unexpected"] = 1;
        return map;
      },
  };
  return kinds[std::uniform_int_distribution<size_t>(0,
                                                     kinds.size() - 1)(rng)]();
}

// Breaks one node of `doc`: replaced, or (in a map) a key removed, or (in
// a sequence) an element repeated.
void BreakOnce(YAML::Node doc, std::mt19937_64& rng) {
  std::vector<YAML::Node> nodes;
  Collect(doc, &nodes);
  YAML::Node target =
      nodes[std::uniform_int_distribution<size_t>(0, nodes.size() - 1)(rng)];
  const int how = std::uniform_int_distribution<int>(0, 2)(rng);
  if (how == 1 && target.IsMap() && target.size() > 0) {
    std::vector<std::string> keys;
    for (auto kv : target) keys.push_back(kv.first.as<std::string>());
    target.remove(
        keys[std::uniform_int_distribution<size_t>(0, keys.size() - 1)(rng)]);
  } else if (how == 2 && target.IsSequence() && target.size() > 0) {
    target.push_back(YAML::Clone(target[0]));  // a duplicate key
  } else if (!target.IsNull() || how == 0) {
    target = Replacement(rng);
  }
}

TEST(ImportFileTest, TheExampleParsesWithoutErrors) {
  std::vector<std::string> errors;
  ImportFile file =
      ParseImportFile("roadmap-2016.yaml", ReadExample(), &errors);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_GT(file.EntityCount(), 30u);
}

// Keys and tags: 1..40 (keys) or 1..50 (tags) characters of a-z, 0-9, '-'
// and '_'.
// A file saved in Latin-1 (a spreadsheet's export) is named with the line
// of its first byte that is not UTF-8: sent as it is, its requests would
// not parse on the server.
TEST(ImportFileTest, AFileThatIsNotUtf8NamesItsLine) {
  std::string text = ReadExample();
  const size_t at = text.find("Travail des m\xC3\xA9taux");
  ASSERT_NE(at, std::string::npos);
  const size_t line = 1 + std::count(text.begin(), text.begin() + at, '\n');
  text.replace(at, std::string("Travail des m\xC3\xA9taux").size(),
               "Travail des m\xE9taux");
  std::vector<std::string> errors;
  ParseImportFile("f.yaml", text, &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("f.yaml:" + std::to_string(line) +
                                ": byte 0xE9 is not UTF-8 text",
                            0),
            0u)
      << errors[0];
}

TEST(ImportFileTest, KeysAndTagsAreSlugs) {
  auto problems = [](const std::string& key, const std::string& tag) {
    return ProblemsWith([&](YAML::Node& doc) {
      doc["actions"][0]["key"] = key;
      doc["actions"][0]["tags"] = std::vector<std::string>{tag};
    });
  };
  EXPECT_EQ(problems("plateforme-collecte", "tri_2"), "");
  // (Other entries refer to the old key: only this entry's own problems.)
  const std::string longest =
      problems(std::string(40, 'k'), std::string(50, 't'));
  EXPECT_EQ(longest.find("actions[0].key"), std::string::npos) << longest;
  EXPECT_EQ(longest.find("actions[0].tags"), std::string::npos) << longest;
  for (const std::string& bad : {std::string("Plateforme"), std::string("a b"),
                                 std::string("é"), std::string(41, 'k')}) {
    EXPECT_NE(problems(bad, "tri").find("actions[0].key: must be 1..40"),
              std::string::npos)
        << bad;
  }
  for (const std::string& bad :
       {std::string("Tri"), std::string("a.b"), std::string(51, 't'),
        std::string("jalon-key-x")}) {
    EXPECT_NE(problems("plateforme-collecte", bad).find("actions[0].tags"),
              std::string::npos)
        << bad;
  }
}

// What an export writes imports again: milestone keys are the server's
// milestone ids (any 1..64 bytes), and an action has up to 20 tags.
TEST(ImportFileTest, MilestoneKeysAndTagCountAreTheServersLimits) {
  auto problems = [](const std::string& milestone, int tags) {
    return ProblemsWith([&](YAML::Node& doc) {
      YAML::Node m;
      m["key"] = milestone;
      m["title"] = "Essais";
      m["due_date"] = "2026-09-30";
      doc["actions"][0]["milestones"] = std::vector<YAML::Node>{m};
      std::vector<std::string> t;
      for (int i = 0; i < tags; ++i) t.push_back("t" + std::to_string(i));
      doc["actions"][0]["tags"] = t;
    });
  };
  EXPECT_EQ(problems("Étape 2 (bis)", 20), "");
  EXPECT_EQ(problems(std::string(64, 'k'), 0), "");
  EXPECT_NE(problems(std::string(65, 'k'), 0)
                .find("actions[0].milestones[0].key: must be at most 64"),
            std::string::npos);
  EXPECT_NE(problems("", 0).find("actions[0].milestones[0].key"),
            std::string::npos);
  EXPECT_NE(problems("etude", 21).find("actions[0].tags: at most 20 tags"),
            std::string::npos);
}

// An action's lead and partner are the roadmap's two co-pilots, as the
// server requires: the file is refused before anything is imported.
TEST(ImportFileTest, ActionPartiesAreTheRoadmapsCopilots) {
  auto problems = [](const std::string& lead, const std::string& partner) {
    return ProblemsWith([&](YAML::Node& doc) {
      doc["actions"][0]["lead"] = lead;
      doc["actions"][0]["partner"] = partner;
    });
  };
  EXPECT_EQ(problems("industrie", "fimme"), "");
  const std::string member = problems("fimme", "atlas-cables");
  EXPECT_NE(member.find("actions[0].partner: must be one of the roadmap's "
                        "two co-pilots"),
            std::string::npos)
      << member;
  EXPECT_EQ(member.find("actions[0].lead"), std::string::npos) << member;
  EXPECT_NE(
      problems("atlas-cables", "industrie").find("actions[0].lead: must be"),
      std::string::npos);
}

TEST(ImportFileTest, RandomlyBrokenFilesGetLocatedErrorsNeverACrash) {
  const std::string example = ReadExample();
  std::mt19937_64 rng(20261127);
  int rejected = 0;
  for (int n = 0; n < 300; ++n) {
    YAML::Node doc = YAML::Load(example);
    for (int k = std::uniform_int_distribution<int>(1, 3)(rng); k > 0; --k) {
      BreakOnce(doc, rng);
    }
    YAML::Emitter out;
    out << doc;
    std::vector<std::string> errors;
    ASSERT_NO_THROW(ParseImportFile("broken.yaml", out.c_str(), &errors))
        << out.c_str();
    rejected += errors.empty() ? 0 : 1;
    for (const auto& e : errors) {
      EXPECT_EQ(e.rfind("broken.yaml:", 0), 0u) << e;
      EXPECT_LT(e.size(), 800u) << e.substr(0, 200);
    }
  }
  // Most changes break the file (a change may also leave it valid: an
  // optional field removed, say).
  EXPECT_GT(rejected, 150);
}

TEST(ImportFileTest, BytesThatAreNotYamlAreOneLocatedError) {
  for (const std::string& text :
       {std::string("{"), std::string("roadmap: [unclosed"),
        std::string("\t- tab"), std::string("\xff\xfe\x00", 3),
        std::string("organizations: &a [*a]"), std::string(),
        std::string("{[a]: 1}"), std::string("? [a]\n: 1\n"),
        std::string("roadmap: {{x: 1}: 2}")}) {
    std::vector<std::string> errors;
    ASSERT_NO_THROW(ParseImportFile("bad.yaml", text, &errors));
    ASSERT_FALSE(errors.empty()) << text;
    EXPECT_EQ(errors.front().rfind("bad.yaml:", 0), 0u) << errors.front();
  }
}

}  // namespace
}  // namespace jalon::ctl
