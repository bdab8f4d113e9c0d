// validator.cc: VALIDATE in exoauthd (see validator.hh). Runs on the event
// loop; the key-set fetch (OIDC metadata, then jwks_uri, both HTTPS with
// verification) runs on a worker and hands a new key map back.
#include "validator.hh"

#include "clock.hh"

#include "http.hh"
#include "log.hh"
#include "registry.hh"
#include "credfile.hh"

#include "usermap.hh"


#include <algorithm>
#include <cctype>

namespace exo {

namespace {
constexpr double NEGATIVE_TTL = 30;           // seconds a refusal is remembered
constexpr double POSITIVE_MAX = 3600;         // seconds an acceptance is remembered at most
constexpr size_t MAX_WAITERS = 1024;          // tokens held while a key set is fetched
constexpr size_t MAX_INTROSPECTIONS = 16;     // distinct tokens at the introspection endpoint at once
constexpr size_t CACHE_MAX = 10000;           // acceptances kept, and as many refusals
constexpr double NEVER_RETRY = 10;            // seconds between first-fetch attempts
constexpr double FAILED_RETRY = 60;           // seconds before a failed refresh is retried

// An acceptance of the token of user, valid until expires.
ValidateReply accepted(const std::string &user, int64_t expires)
{
    ValidateReply r;
    r.ok = true;
    r.user = user;
    r.expires = expires;
    return r;
}

// A refusal reply.
ValidateReply refused(const std::string &code, const std::string &reason, bool temporary = false)
{
    ValidateReply r;
    r.code = code;
    r.reason = reason;
    r.temporary = temporary;
    return r;
}

// The tenant id in a discovery issuer AUTHORITY/<GUID>/v2.0, lower case;
// "" when issuer has another form.
std::string issuer_tenant(const std::string &issuer, const std::string &authority)
{
    const std::string head = authority + "/", tail = "/v2.0";
    if (issuer.size() != head.size() + 36 + tail.size() || issuer.compare(0, head.size(), head) != 0 ||
        issuer.compare(head.size() + 36, tail.size(), tail) != 0 || !is_guid(issuer.substr(head.size(), 36)))
        return "";
    std::string tid = issuer.substr(head.size(), 36);
    std::transform(tid.begin(), tid.end(), tid.begin(), [](unsigned char c) { return (char)std::tolower(c); });
    return tid;
}

// The home tenant's id from its discovery document, as Entra ID names it in
// issuer: a domain is resolved by it, a GUID must be the configured one, a
// multi-tenant word has none (its tenants list pins the trust).
bool home_tenant(const Config &cfg, const json_t *doc, std::string &tid, std::string &error)
{
    const std::string &tenant = cfg.validate.tenant;
    if (is_multi_tenant(tenant))
        return true;
    std::string issuer;
    json_get_string(doc, "issuer", issuer);
    tid = issuer_tenant(issuer, cfg.authority);
    if (!tid.empty() && (!is_guid(tenant) || tid == tenant))
        return true;
    error = "OIDC metadata of tenant " + tenant + ": issuer is not " + cfg.authority + "/<" +
            (is_guid(tenant) ? tenant : std::string("tenant id")) + ">/v2.0";
    return false;
}

// Worker side: discovery document (the home tenant's id and jwks_uri).
bool discover(HttpClient &http, const Config &cfg, KeyFetch &f, std::string &jwks_uri)
{
    HttpResponse resp;
    std::string url = cfg.authority + "/" + cfg.validate.tenant + "/v2.0/.well-known/openid-configuration";
    JsonPtr doc;
    if (!http.get(url, resp, f.error))
        return false;
    if (resp.status != 200 || !json_parse_object(resp.body.str(), doc, f.error) ||
        !json_get_string(doc.get(), "jwks_uri", jwks_uri) || jwks_uri.compare(0, 8, "https://") != 0) {
        f.error = "OIDC metadata " + url + ": " + (resp.status ? "status " + std::to_string(resp.status) : resp.error) +
                  (f.error.empty() ? "" : " " + f.error);
        return false;
    }
    return home_tenant(cfg, doc.get(), f.tid, f.error);
}

// Worker side: discovery document, then the key set it names.
bool fetch_keys(const Config &cfg, KeyFetch &f)
{
    HttpClient http(idp_http_options(cfg));
    std::string jwks_uri;
    if (!discover(http, cfg, f, jwks_uri))
        return false;
    HttpResponse resp;
    if (!http.get(jwks_uri, resp, f.error))
        return false;
    if (resp.status != 200) {
        f.error = "JWKS " + jwks_uri + ": " + (resp.status ? "status " + std::to_string(resp.status) : resp.error);
        return false;
    }
    return jwks_parse(resp.body.str(), f.keys, f.error);
}

// The claim rules of [validate] but the tenant pinning (Validator::
// pin_tenants); jwt's default issuers are Entra's v1 and v2 forms,
// introspection checks iss only when issuers are configured.
JwtPolicy policy_of(const ValidateConfig &vc, const std::string &authority)
{
    JwtPolicy p;
    p.issuers = vc.issuers;
    if (p.issuers.empty() && vc.mode == "jwt")
        p.issuers = {"https://sts.windows.net/{tenantid}/", authority + "/{tenantid}/v2.0"};
    p.audiences = vc.audiences;
    p.scopes = vc.scopes;
    p.roles = vc.roles;
    p.user_claim = vc.user_claim;
    p.skew = vc.skew;
    return p;
}

// "a b c" of words.
std::string joined(const std::vector<std::string> &words)
{
    std::string out;
    for (const auto &w : words)
        out += (out.empty() ? "" : " ") + w;
    return out;
}

// Worker side: RFC 7662 introspection of token, turned into a verdict.
ValidateReply introspect_token(const Config &cfg, const Secret &secret, const JwtPolicy &policy,
                               const std::string &token)
{
    HttpClient http(idp_http_options(cfg));
    FormFields f = {{"token", Secret(token)}, {"token_type_hint", Secret("access_token")},
                    {"client_id", Secret(cfg.validate.client_id)}};
    if (!secret.empty())
        f.emplace_back("client_secret", secret);
    HttpResponse resp;
    std::string error;
    if (!http.post_form(cfg.validate.introspection_url, f, resp, error) || resp.status != 200)
        return refused("idp_unavailable", "introspection endpoint: " +
                       (resp.status ? "status " + std::to_string(resp.status) : resp.error + error), true);
    JsonPtr obj;
    if (!json_parse_object(resp.body.str(), obj, error) || !json_is_boolean(json_object_get(obj.get(), "active")))
        return refused("idp_unavailable", "introspection answer is not RFC 7662 JSON", true);
    if (!json_is_true(json_object_get(obj.get(), "active")))
        return refused("invalid_token", "inactive token");
    json_t *o2 = obj.get();
    json_t *scope = json_object_get(o2, "scope");
    if (json_is_string(scope))
        json_object_set(o2, "scp", scope);
    else
        json_object_set_new(o2, "scp", json_string(""));
    if (!json_object_get(o2, policy.user_claim.c_str()) && json_object_get(o2, "username"))
        json_object_set(o2, policy.user_claim.c_str(), json_object_get(o2, "username"));
    JwtVerdict v = jwt_check_claims(o2, policy, (int64_t)wall_now());
    return v.ok ? accepted(v.user, v.exp) : refused("invalid_token", v.reason);
}
} // namespace

// Policy, tenants, secret and user map from a (re)loaded [validate].
// The secret and user_map of [validate], by the credential-file rule.
bool validate_files_load(const Config &cfg, ValidateFiles &out, std::string &error)
{
    const ValidateConfig &v = cfg.validate;
    if (v.enabled && v.mode == "introspection" && !v.secret_file.empty() &&
        !read_secret_file(v.secret_file, out.secret, error))
        return false;
    if (v.enabled && !v.user_map.empty() && !usermap_load(v.user_map, out.user_map, error))
        return false;
    return true;
}

void Validator::configure(const Config &cfg, ValidateFiles &&files)
{
    bool new_tenant = cfg.validate.tenant != vc_.tenant;
    vc_ = cfg.validate;
    cfg_ = std::make_shared<const Config>(cfg);
    policy_ = policy_of(vc_, cfg.authority);
    if (new_tenant)
        forget_keys();
    pin_tenants();
    warn_widened_trust();
    secret_ = std::move(files.secret);
    user_map_ = std::move(files.user_map);
    accepted_.clear();
    refused_.clear();
    generation_++;
}

// Another tenant: its keys and id are fetched anew (a GUID is its own id).
void Validator::forget_keys()
{
    keys_.clear();
    keys_fetched_ = 0;
    last_attempt_ = -1e9;
    home_tid_ = is_guid(vc_.tenant) ? vc_.tenant : "";
}

// jwt: tid must be the home tenant's id or one of "tenants"; until a domain
// tenant is resolved only the listed ones (no key is there yet either).
// introspection: "tenants" is a plain allow-list.
void Validator::pin_tenants()
{
    policy_.tenants = vc_.tenants;
    if (vc_.mode == "jwt" && !home_tid_.empty())
        policy_.tenants.push_back(home_tid_);
    // an introspection endpoint answers for its own issuer: no tenants
    // listed leaves the tenant to it, as the configuration says
    policy_.any_tenant = vc_.mode == "introspection" && vc_.tenants.empty();
}

// Said at every (re)load: trust wider than the home tenant is a choice
// (listing the home tenant's own GUID widens nothing).
void Validator::warn_widened_trust() const
{
    std::vector<std::string> more;
    for (const auto &t : vc_.tenants)
        if (t != home_tid_)
            more.push_back(t);
    if (vc_.mode == "jwt" && !more.empty())
        log_warning("validation: \"tenants\" widens trust beyond tenant %s: tokens of %zu more tenant(s) "
                    "are accepted (%s)", vc_.tenant.c_str(), more.size(), joined(more).c_str());
    if (is_mutable_user_claim(vc_.user_claim))
        log_warning("validation: user_claim %s can be set by the user or another tenant; it names local users "
                    "because allow_mutable_user_claim = yes", vc_.user_claim.c_str());
}

Validator::Validator(Workers &workers)
    : workers_(workers), log_limit_(60.0, 5, 16), accepted_(CACHE_MAX), refused_(CACHE_MAX)
{
}

// Cache, then parse and check; may wait for one key-set fetch.
void Validator::validate(const std::string &token, const std::string &hash, ValidateCallback cb)
{
    if (!vc_.enabled)
        return cb(refused("not_configured", "token validation is not configured ([validate])"));
    if (const ValidateReply *known = recall(hash))
        return cb(*known);
    if (vc_.mode == "introspection")
        return introspect(token, hash, std::move(cb));
    check(token, hash, std::move(cb), true);
}

// Split, find the key (fetching once if allowed), validate, remember.
void Validator::check(const std::string &token, const std::string &hash, ValidateCallback cb, bool may_fetch)
{
    JwtParts parts;
    std::string reason;
    if (!jwt_split(token, parts, reason)) {
        ValidateReply r = refused("invalid_token", reason);
        remember(hash, r);
        return cb(r);
    }
    auto key = keys_.find(parts.kid);
    if (key == keys_.end())
        return unknown_kid(token, hash, std::move(cb), may_fetch);
    if (vc_.mode == "jwt" && policy_.tenants.empty())  // never "any tenant"
        return cb(refused("idp_unavailable", "tenant id not resolved yet", true));
    JwtVerdict v = jwt_validate(parts, key->second.get(), policy_, (int64_t)wall_now());
    ValidateReply r = v.ok ? accepted(v.user, v.exp) : refused("invalid_token", v.reason);
    remember(hash, r);
    cb(r);
}

// A kid not in the set: wait for a refetch when one is allowed. Refused
// for good only just after a successful refetch; while refetches are
// throttled (or the last one failed) the key may be new: temporary, and
// not remembered, so the next refetch window brings it in.
void Validator::unknown_kid(const std::string &token, const std::string &hash, ValidateCallback cb, bool may_fetch)
{
    double now = wall_now();
    // no key set yet: one attempt per NEVER_RETRY; else one refetch per window
    bool allowed = keys_fetched_ == 0 ? now - last_attempt_ >= NEVER_RETRY : now - last_kid_fetch_ >= vc_.kid_refetch;
    if (may_fetch && (allowed || fetching_)) {
        if (waiters_.size() >= MAX_WAITERS)  // each holds a token of up to 16 KiB
            return cb(refused("idp_unavailable", "too many tokens waiting for the key set", true));
        waiters_.push_back({Secret(token), hash, std::move(cb)});
        if (!fetching_) {
            last_kid_fetch_ = keys_fetched_ == 0 ? last_kid_fetch_ : now;
            start_fetch();
        }
        return;
    }
    if (keys_.empty())
        return cb(refused("idp_unavailable", "signing keys unavailable", true));
    if (may_fetch || !last_fetch_ok_)
        return cb(refused("idp_unavailable", "unknown kid (key set refetch not possible yet)", true));
    ValidateReply r = refused("invalid_token", "unknown kid");
    remember(hash, r);
    cb(r);
}

// One introspection request per distinct token in flight; callers join it.
void Validator::introspect(const std::string &token, const std::string &hash, ValidateCallback cb)
{
    if (introspecting_.size() >= MAX_INTROSPECTIONS && !introspecting_.count(hash))  // workers serve tokens too
        return cb(refused("idp_unavailable", "too many tokens being introspected; retry", true));
    auto &waiting = introspecting_[hash];
    waiting.push_back(std::move(cb));
    if (waiting.size() > 1)
        return;
    auto cfg = cfg_;
    auto policy = std::make_shared<JwtPolicy>(policy_);
    auto secret = std::make_shared<Secret>(secret_);
    auto tok = std::make_shared<Secret>(token);
    auto r = std::make_shared<ValidateReply>();
    workers_.submit([cfg, policy, secret, tok, r] { *r = introspect_token(*cfg, *secret, *policy, tok->str()); },
                    [this, hash, r, gen = generation_] { finish_introspect(hash, *r, gen); });
}

// Answer everyone waiting on one introspection; remember final verdicts.
// A verdict reached under a configuration a reload has since replaced is
// answered but not remembered.
void Validator::finish_introspect(const std::string &hash, ValidateReply r, uint64_t generation)
{
    if (!r.temporary && generation == generation_)
        remember(hash, r);
    else if (r.temporary && log_limit_.allow("introspection failures", mono_now()))
        log_warning("validation: %s", r.reason.c_str());
    auto w = std::move(introspecting_[hash]);
    introspecting_.erase(hash);
    for (auto &cb : w)
        cb(r);
}

// Keep a verdict: acceptances until exp (at most an hour), refusals briefly.
void Validator::remember(const std::string &hash, ValidateReply &r)
{
    r.claim = r.user;
    if (r.ok && !user_map_.empty())
        r.user = usermap_apply(user_map_, r.user);
    double now = wall_now();
    double until = r.ok ? std::min((double)r.expires, now + POSITIVE_MAX) : now + NEGATIVE_TTL;
    (r.ok ? accepted_ : refused_).put(hash, Cached{r, until});
}

// A verdict still valid for this token, or nullptr; expired ones go.
const ValidateReply *Validator::recall(const std::string &hash)
{
    double now = wall_now();
    for (LruMap<Cached> *cache : {&accepted_, &refused_}) {
        Cached *c = cache->find(hash);
        if (c && now < c->until)
            return &c->reply;
        if (c)
            cache->erase(hash);
    }
    return nullptr;
}

// One key-set fetch on a worker.
void Validator::start_fetch()
{
    fetching_ = true;
    fetches_++;
    last_attempt_ = wall_now();
    auto cfg = cfg_;
    auto f = std::make_shared<KeyFetch>();
    f->tenant = cfg->validate.tenant;
    workers_.submit([cfg, f] { f->ok = fetch_keys(*cfg, *f); }, [this, f] { finish_fetch(f); });
}

// New keys (and the home tenant's id) replace the old ones; a failure, or
// a fetch for a tenant replaced by a reload meanwhile, keeps the last good set.
void Validator::finish_fetch(std::shared_ptr<KeyFetch> f)
{
    fetching_ = false;
    last_fetch_ok_ = f->ok && f->tenant == vc_.tenant;
    (last_fetch_ok_ ? daemon_metrics().jwks_fetches_ok : daemon_metrics().jwks_fetches_failed)++;
    if (last_fetch_ok_) {
        keys_ = std::move(f->keys);
        keys_fetched_ = wall_now();
        home_tid_ = f->tid;
        pin_tenants();
        log_info("validation: %zu signing keys loaded for tenant %s (%s)", keys_.size(), vc_.tenant.c_str(),
                 home_tid_.empty() ? "tenants listed" : home_tid_.c_str());
    } else {
        log_warning("validation: cannot fetch signing keys: %s%s", f->ok ? "the tenant changed" : f->error.c_str(),
                    keys_.empty() ? "" : " (keeping the last good set)");
        if (keys_fetched_ > 0)
            keys_fetched_ = wall_now() - vc_.jwks_ttl + FAILED_RETRY;
    }
    std::vector<Waiter> w;
    w.swap(waiters_);
    for (auto &x : w)
        check(x.token.str(), x.hash, std::move(x.cb), false);
}

// Background refresh when the set is older than jwks_ttl.
void Validator::tick()
{
    log_limit_.flush(mono_now(), [](const std::string &kind, uint64_t n) {
        log_warning("validation: %llu more %s in the last minute (not logged one by one)", (unsigned long long)n,
                    kind.c_str());
    });
    if (vc_.enabled && vc_.mode == "jwt" && !fetching_ && keys_fetched_ > 0 &&
        wall_now() - keys_fetched_ > vc_.jwks_ttl)
        start_fetch();
}

} // namespace exo
