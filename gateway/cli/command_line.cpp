#include "cli/command_line.h"

#include <ostream>

#include <boost/program_options/errors.hpp>

namespace authgate::cli {

int usage_error(std::ostream& err, const Command& command, std::string_view message) {
    err << command.name << ": " << message << "\n\n" << command.usage;
    return kUsage;
}

std::optional<Parsed> parse(int argc, char** argv, const po::options_description& options, const Command& command,
                            std::ostream& err, std::size_t max_words) {
    // Abbreviated long options ("--conf") are not guessed: a script that works today must
    // not change meaning when an option is added tomorrow.
    constexpr int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    Parsed out;
    try {
        // Like main's argv, argv[0] is skipped by the parser itself.
        auto parsed = po::command_line_parser(argc, argv)
                          .options(options)
                          .style(style)
                          .run();
        for (auto& o : parsed.options) {
            // Without a positional description, bare words arrive with no key.
            if (o.string_key.empty()) {
                const std::string word = o.original_tokens.empty() ? std::string() : o.original_tokens.front();
                if (out.words.size() == max_words) {
                    usage_error(err, command, "unknown argument '" + word + "'");
                    return std::nullopt;
                }
                out.words.push_back(word);
            } else {
                out.in_order.push_back(o);
            }
        }
        po::store(parsed, out.values);
        po::notify(out.values);
    } catch (const po::unknown_option& e) {
        usage_error(err, command, "unknown argument '" + e.get_option_name() + "'");
        return std::nullopt;
    } catch (const po::error& e) {
        // Program_options says which option and what is wrong ("the required argument for
        // option '--config' is missing", "option '--alg' cannot be specified more than once").
        usage_error(err, command, e.what());
        return std::nullopt;
    }
    return out;
}

}  // namespace authgate::cli
