// Command lines of every subcommand (run, token, explain, health) through
// Boost.Program_options: one place decides the syntax (--opt VALUE, --opt=VALUE,
// -oVALUE), how a usage error is worded and which exit codes mean what.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <boost/program_options/variables_map.hpp>

namespace authgate::cli {

namespace po = boost::program_options;

// Exit codes shared by every subcommand.
inline constexpr int kSuccess = 0;
inline constexpr int kFailure = 1;  // invalid config, failed to start, refused, unhealthy
inline constexpr int kUsage = 2;    // unknown or missing argument

struct Parsed {
    po::variables_map values;
    // Every option as given, in command-line order: for repeated options whose relative
    // order matters (explain's --header and --token, token's --claim and --claim-json).
    std::vector<po::option> in_order;
    // Arguments that are not options (health's URL), in order.
    std::vector<std::string> words;

    bool has(const char* name) const { return values.count(name) != 0; }
    std::string text(const char* name, std::string fallback = {}) const {
        return has(name) ? values[name].as<std::string>() : fallback;
    }
};

// A command: its name in messages ("authgate token") and its usage text.
struct Command {
    std::string_view name;
    std::string_view usage;
};

// Parses argv[1..argc) (argv[0] names the program or the subcommand) against `options`,
// with at most `max_words` arguments that are not options. On a usage error writes it
// (usage_error) and returns nullopt.
std::optional<Parsed> parse(int argc, char** argv, const po::options_description& options, const Command& command,
                            std::ostream& err, std::size_t max_words = 0);

// Writes "NAME: message", a blank line and the usage to err; returns kUsage.
int usage_error(std::ostream& err, const Command& command, std::string_view message);

}  // namespace authgate::cli
