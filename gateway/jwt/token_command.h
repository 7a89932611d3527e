// `authgate token ...`: signs a token for trying a deployment with curl.
#pragma once

namespace authgate::jwt {

// argv[0] is "token" (or the program name, then "token"); returns the process exit code.
int token_command(int argc, char** argv);

}  // namespace authgate::jwt
