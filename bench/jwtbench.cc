// jwtbench.cc: uncached JWT validation speed of src/core/jwt.cc (split,
// RS256 verify, every claim check) beside the floor, a bare OpenSSL RS256
// verify of the same signing inputs, in one run on one core. Bounded: a
// fixed number of distinct tokens, each validated once per round.
#include "base64.hh"
#include "jwt.hh"

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace exo;
using Clock = std::chrono::steady_clock;

// A signed token with distinct claims per i.
static std::string make_token(EVP_PKEY *key, int i, int64_t now)
{
    std::string h = R"({"alg":"RS256","typ":"JWT","kid":"k1"})";
    std::string c = "{\"aud\":\"api://exoauth\",\"iss\":\"https://sts.windows.net/t1/\",\"tid\":\"t1\","
                    "\"exp\":" + std::to_string(now + 3600) + ",\"nbf\":" + std::to_string(now - 5) +
                    ",\"scp\":\"Mail.Login\",\"upn\":\"user" + std::to_string(i) + "@contoso.example\"}";
    std::string input = base64url_encode(h) + "." + base64url_encode(c), sig, error;
    sign(key, SigAlg::RS256, input, sig, error);
    return input + "." + base64url_encode(sig);
}

// Seconds taken by fn over every token.
template <typename F> static double timed(const std::vector<std::string> &tokens, F fn)
{
    auto t0 = Clock::now();
    for (const auto &t : tokens)
        fn(t);
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    EvpPkeyPtr key(EVP_RSA_gen(2048));
    int64_t now = time(nullptr);
    std::vector<std::string> tokens;
    for (int i = 0; i < n; i++)
        tokens.push_back(make_token(key.get(), i, now));
    JwtPolicy p;
    p.issuers = {"https://sts.windows.net/{tenantid}/"};
    p.audiences = {"api://exoauth"};
    p.tenants = {"t1"};  // the tokens' tenant: the pin is part of what is measured
    p.scopes = {"Mail.Login"};
    long bad = 0;
    double floor_s = timed(tokens, [&](const std::string &t) {
        size_t d = t.rfind('.');
        std::string sig;
        base64url_decode(t.substr(d + 1), sig);
        bad += !verify(key.get(), SigAlg::RS256, t.substr(0, d), sig);
    });
    double full_s = timed(tokens, [&](const std::string &t) {
        JwtParts parts;
        std::string reason;
        bad += !(jwt_split(t, parts, reason) && jwt_validate(parts, key.get(), p, now).ok);
    });
    printf("tokens=%d rsa_verify_per_s=%.0f jwt_validate_per_s=%.0f ratio=%.2f errors=%ld\n", n,
           n / floor_s, n / full_s, full_s / floor_s, bad);
    return bad ? 1 : 0;
}
