// The configuration reference (docs/configuration.md) and config/example.yaml name exactly
// the keys the loader accepts (config/keys.h, the lists its sections read with), and
// keys.h places each key where the YAML really has it. A key added to the loader without a
// reference row, or a row or example key the loader does not know, fails here.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/keys.h"
#include "config_test_util.h"
#include "cors/policy.h"
#include "jwt/authenticator.h"

namespace authgate::config {
namespace {

namespace fs = std::filesystem;
using test::dump;
using test::ScopedEnv;

const fs::path kSource = AUTHGATE_SOURCE_DIR;
const fs::path kReference = kSource / "docs" / "configuration.md";
const fs::path kExample = kSource / "config" / "example.yaml";

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string list(const std::set<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += "\n  " + item;
    return out.empty() ? " (none)" : out;
}

std::set<std::string> missing_from(const std::set<std::string>& wanted, const std::set<std::string>& have) {
    std::set<std::string> out;
    std::set_difference(wanted.begin(), wanted.end(), have.begin(), have.end(), std::inserter(out, out.end()));
    return out;
}

// Every full key path the loader accepts: "server.timeouts.idle", "routes[].match.path".
std::set<std::string> registered() {
    std::set<std::string> out;
    for (const auto* section : keys::all())
        for (const auto& key : section->keys) out.insert(section->key_path(key));
    return out;
}

const keys::SectionKeys* section_at(const std::string& path) {
    for (const auto* section : keys::all())
        if (section->path == path) return section;
    return nullptr;
}

// The key paths a YAML document uses, in the registry's notation.
void collect_keys(const YAML::Node& node, const std::string& path, std::set<std::string>& used) {
    if (node.IsSequence()) {
        for (const auto& item : node) collect_keys(item, path + "[]", used);
        return;
    }
    if (!node.IsMap()) return;
    const keys::SectionKeys* section = section_at(path);
    for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string key = it->first.Scalar();
        // A key under a mapping of user-chosen names is that mapping's placeholder; a key
        // under a mapping keys.h does not know keeps its own name, and so fails the check.
        const std::string child = section && section->named ? section->key_path(section->keys.front())
                                  : path.empty()              ? key
                                                              : path + "." + key;
        used.insert(child);
        collect_keys(it->second, child, used);
    }
}

std::set<std::string> keys_in_yaml(const std::string& yaml) {
    std::set<std::string> used;
    collect_keys(YAML::Load(yaml), "", used);
    return used;
}

struct Reference {
    std::set<std::string> rows;            // key paths in the first column of its tables
    std::vector<std::string> yaml_blocks;  // ```yaml blocks, in order
};

// A table row documents a key when its first cell is one code span whose text starts with
// a top-level section name (`server.listen`, `routes[].name`); other tables (units, exit
// codes, signals) do not.
Reference parse_reference(const std::string& text) {
    Reference ref;
    std::istringstream in(text);
    std::string line, block;
    bool in_code = false, yaml = false;
    while (std::getline(in, line)) {
        if (line.rfind("```", 0) == 0) {
            if (in_code && yaml) ref.yaml_blocks.push_back(block);
            yaml = !in_code && line == "```yaml";
            in_code = !in_code;
            block.clear();
            continue;
        }
        if (in_code) {
            block += line + "\n";
            continue;
        }
        if (line.rfind("| `", 0) != 0) continue;
        const auto close = line.find('`', 3);
        if (close == std::string::npos || line.compare(close + 1, 2, " |") != 0) continue;
        const std::string key = line.substr(3, close - 3);
        const std::string top = key.substr(0, key.find_first_of(".["));
        const auto& sections = keys::top.keys;
        if (std::find(sections.begin(), sections.end(), top) != sections.end()) ref.rows.insert(key);
    }
    return ref;
}

// config/example.yaml with its commented-out keys put back: a full-line comment that is a
// key ("  # tls:", "  #   cert_file: x", "  # - query: t") loses its "# ".
std::string uncomment(const std::string& text) {
    static const std::regex commented_key(R"(^(\s*)# (\s*(- )?[A-Za-z_][A-Za-z0-9_.]*:(\s.*)?)$)");
    std::istringstream in(text);
    std::string out, line;
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_match(line, m, commented_key))
            out += m[1].str() + m[2].str() + "\n";
        else
            out += line + "\n";
    }
    return out;
}

// Every message `authgate --check` would print for a loaded config, up to the compile steps that
// need no files beyond the config (as one_message_test does).
std::vector<std::string> check_messages(const std::optional<Config>& cfg, Diagnostics& diag) {
    if (cfg) {
        for (const auto& policy : cfg->cors.policies) cors::Policy::create(policy, diag);
        auto providers = jwt::ProviderSet::create(cfg->jwt, diag);
        for (const auto& route : cfg->routes)
            if (!route.auth.none) jwt::Authenticator::create(route.auth, *providers);
    }
    std::vector<std::string> messages = diag.errors();
    messages.insert(messages.end(), diag.warnings().begin(), diag.warnings().end());
    return messages;
}

class ConfigReference : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string text = read_text(kReference);
        ASSERT_FALSE(text.empty()) << "cannot read " << kReference;
        ref_ = parse_reference(text);
    }
    Reference ref_;
};

TEST_F(ConfigReference, DocumentsEveryKeyTheLoaderAccepts) {
    const auto undocumented = missing_from(registered(), ref_.rows);
    EXPECT_TRUE(undocumented.empty()) << "config/keys.h has keys without a row (| `path` | type | default | what "
                                         "it does |) in docs/configuration.md:"
                                      << list(undocumented);
}

TEST_F(ConfigReference, DocumentsOnlyKeysTheLoaderAccepts) {
    ASSERT_GT(ref_.rows.size(), 20u) << "no key rows found: has the table notation changed?";
    const auto unknown = missing_from(ref_.rows, registered());
    EXPECT_TRUE(unknown.empty()) << "docs/configuration.md documents keys the loader rejects:" << list(unknown);
}

// Each section's example block shows its keys: together they show every key, and none
// the loader would reject.
TEST_F(ConfigReference, ExamplesShowEveryKeyAndOnlyAcceptedOnes) {
    ASSERT_FALSE(ref_.yaml_blocks.empty());
    std::set<std::string> used;
    for (const auto& block : ref_.yaml_blocks) {
        try {
            used.merge(keys_in_yaml(block));
        } catch (const YAML::Exception& e) {
            ADD_FAILURE() << "invalid YAML example in docs/configuration.md (" << e.what() << "):\n" << block;
        }
    }
    EXPECT_TRUE(missing_from(used, registered()).empty())
        << "examples use keys the loader rejects:" << list(missing_from(used, registered()));
    EXPECT_TRUE(missing_from(registered(), used).empty())
        << "keys no example shows:" << list(missing_from(registered(), used));
}

TEST_F(ConfigReference, MinimalConfigurationChecksWithoutAMessage) {
    ScopedEnv secret("JWT_SECRET", "a-secret-that-is-long-enough-for-hs256!!");
    ASSERT_FALSE(ref_.yaml_blocks.empty());
    Diagnostics diag;
    auto cfg = load_string(ref_.yaml_blocks.front(), "minimal.yaml", diag);
    EXPECT_TRUE(cfg.has_value());
    const auto messages = check_messages(cfg, diag);
    EXPECT_TRUE(messages.empty()) << dump(messages);
}

TEST(ConfigExample, ShowsEveryKeyAndOnlyAcceptedOnes) {
    const std::string text = read_text(kExample);
    ASSERT_FALSE(text.empty()) << "cannot read " << kExample;
    const auto used = keys_in_yaml(uncomment(text));
    EXPECT_TRUE(missing_from(used, registered()).empty())
        << "config/example.yaml uses keys the loader rejects:" << list(missing_from(used, registered()));
    EXPECT_TRUE(missing_from(registered(), used).empty())
        << "config/example.yaml does not show (even commented out):" << list(missing_from(registered(), used));
}

TEST(ConfigExample, ChecksWithoutAMessage) {
    ScopedEnv secret("JWT_SECRET", "a-secret-that-is-long-enough-for-hs256!!");
    Diagnostics diag;
    auto cfg = load_file(kExample.string(), diag);
    EXPECT_TRUE(cfg.has_value());
    const auto messages = check_messages(cfg, diag);
    EXPECT_TRUE(messages.empty()) << dump(messages);
}

// The uncommenting above must see through comments, not invent keys from prose.
TEST(ConfigExample, UncommentRestoresOnlyKeys) {
    EXPECT_EQ(uncomment("a:\n  # tls:          # why\n  #   cert_file: x\n"),
              "a:\n  tls:          # why\n    cert_file: x\n");
    EXPECT_EQ(uncomment("      # - query: t\n"), "      - query: t\n");
    const std::string prose = "# Every key, with its default\n#   JWT_SECRET=... authgate -c x --check\n  # see the docs\n";
    EXPECT_EQ(uncomment(prose), prose);
}

// A YAML document that puts `leaf` (a flow mapping) at `path`: "routes[].match" becomes
// {routes: [{match: LEAF}]}; a <placeholder> becomes a name.
std::string nest(const std::string& path, const std::string& leaf) {
    std::vector<std::string> segments;
    std::istringstream in(path);
    for (std::string segment; std::getline(in, segment, '.');) segments.push_back(segment);
    std::string out = leaf;
    for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        std::string name = *it;
        const bool item = name.size() > 2 && name.ends_with("[]");
        if (item) name.resize(name.size() - 2);
        if (name.starts_with('<')) name = "n";
        out = "{" + name + ": " + (item ? "[" + out + "]" : out) + "}";
    }
    return out;
}

std::vector<std::string> unknown_key_errors(const std::string& yaml) {
    auto loaded = test::load(yaml);
    std::vector<std::string> out;
    for (const auto& e : loaded.diag.errors())
        if (e.find("unknown key") != std::string::npos) out.push_back(e);
    return out;
}

// Each registered list is the one the loader uses at that path: its keys are accepted
// there and nothing else is (a mapping of names takes any name).
TEST(ConfigKeys, EachListIsWhereTheLoaderReadsIt) {
    for (const auto* section : keys::all()) {
        SCOPED_TRACE("section '" + section->path + "'");
        const std::string bogus = nest(section->path, "{no_such_key: 1}");
        const auto bogus_errors = unknown_key_errors(bogus);
        if (section->named) {
            EXPECT_TRUE(bogus_errors.empty()) << bogus << dump(bogus_errors);
            continue;
        }
        ASSERT_EQ(bogus_errors.size(), 1u) << bogus << dump(bogus_errors);
        EXPECT_NE(bogus_errors.front().find("unknown key 'no_such_key'"), std::string::npos) << bogus_errors.front();
        for (const auto& key : section->keys) {
            const std::string yaml = nest(section->path, "{" + key + ": 1}");
            EXPECT_TRUE(unknown_key_errors(yaml).empty()) << yaml << dump(unknown_key_errors(yaml));
        }
    }
}

// The notation is consistent: every section hangs under a registered key (a list's items
// under "key[]"), and a mapping of names has exactly one <placeholder>.
TEST(ConfigKeys, SectionsHangUnderRegisteredKeys) {
    const auto all = registered();
    std::set<std::string> paths;
    for (const auto* section : keys::all()) {
        EXPECT_TRUE(paths.insert(section->path).second) << "two sections at '" << section->path << "'";
        if (section->named) {
            ASSERT_EQ(section->keys.size(), 1u) << section->path;
            EXPECT_TRUE(section->keys.front().starts_with('<') && section->keys.front().ends_with('>'))
                << section->path;
        } else {
            for (const auto& key : section->keys)
                EXPECT_TRUE(std::regex_match(key, std::regex("[a-z][a-z0-9_]*"))) << section->key_path(key);
        }
        if (section->path.empty()) continue;
        std::string parent_key = section->path;
        if (parent_key.ends_with("[]")) parent_key.resize(parent_key.size() - 2);
        EXPECT_TRUE(all.count(parent_key)) << "section '" << section->path << "' is under no registered key";
    }
}

}  // namespace
}  // namespace authgate::config
