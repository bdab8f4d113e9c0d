// assertion.cc: the RFC 7523 client assertion (private_key_jwt) that Entra
// ID accepts in place of a client secret (see assertion.hh). Header and
// claims are built with jansson, signed with the certificate's key.
#include "assertion.hh"

#include "base64.hh"
#include "json.hh"

namespace exo {

namespace {
// The JOSE header: alg and the matching thumbprint.
JsonPtr header(const CertCredential &cred, SigAlg alg)
{
    JsonPtr h(json_object());
    json_object_set_new(h.get(), "alg", json_string(sig_alg_name(alg)));
    json_object_set_new(h.get(), "typ", json_string("JWT"));
    if (alg == SigAlg::PS256)
        json_object_set_new(h.get(), "x5t#S256", json_string(cred.x5t_s256.c_str()));
    else
        json_object_set_new(h.get(), "x5t", json_string(cred.x5t.c_str()));
    return h;
}

// The claims Entra ID checks: aud, iss, sub, jti, nbf, iat, exp.
JsonPtr claims(const AssertionParams &p, const std::string &jti)
{
    JsonPtr c(json_object());
    json_object_set_new(c.get(), "aud", json_string(p.audience.c_str()));
    json_object_set_new(c.get(), "iss", json_string(p.client_id.c_str()));
    json_object_set_new(c.get(), "sub", json_string(p.client_id.c_str()));
    json_object_set_new(c.get(), "jti", json_string(jti.c_str()));
    json_object_set_new(c.get(), "nbf", json_integer(p.now));
    json_object_set_new(c.get(), "iat", json_integer(p.now));
    json_object_set_new(c.get(), "exp", json_integer(p.now + p.lifetime));
    return c;
}
} // namespace

// header.payload.signature, all base64url.
bool build_client_assertion(const CertCredential &cred, const AssertionParams &p,
                            std::string &jwt, std::string &error)
{
    std::string jti = p.jti;
    if (jti.empty()) {
        std::string rnd;
        if (!random_bytes(16, rnd)) {
            error = "no randomness for the assertion's jti";
            return false;
        }
        jti = hex(rnd);
    }
    std::string h = json_dump(header(cred, p.alg).get());
    std::string c = json_dump(claims(p, jti).get());
    if (h.empty() || c.empty() || !cred.key) {
        error = "cannot build the client assertion";
        return false;
    }
    std::string input = base64url_encode(h) + "." + base64url_encode(c);
    std::string sig;
    if (!sign(cred.key.get(), p.alg, input, sig, error))
        return false;
    jwt = input + "." + base64url_encode(sig);
    return true;
}

} // namespace exo
