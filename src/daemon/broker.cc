// broker.cc: exoauthd's token broker (see broker.hh). State lives on the
// event-loop thread; each IdP request is a job on a worker that gets copies
// of what it needs and hands back a TokenResult. A rotated refresh token is
// stored by the job itself, before the completion makes the new access
// token available to anyone.
#include "broker.hh"

#include "clock.hh"

#include "assertion.hh"
#include "credfile.hh"
#include "log.hh"
#include "registry.hh"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace exo {

// Everything the broker knows about one account.
struct AccountState {
    AccountConfig cfg;
    std::shared_ptr<const AccountSecrets> secrets;
    Secret token;
    TokenTimes times;
    std::string hash;
    Secret refresh_token;
    bool in_flight = false;
    std::vector<TokenCallback> waiters;
    int failures = 0;
    double next_attempt = 0;
    Outcome last_outcome = Outcome::Ok;
    std::string last_error;
    uint64_t idp_requests = 0;
    uint64_t idp_outcomes[N_IDP_OUTCOMES] = {};  // by kIdpOutcomes
    uint64_t served = 0;
    uint64_t rejected = 0;     // tokens upstream rejected (INVALIDATE that dropped one)
    int64_t last_refresh = 0;  // delegated: the refresh token's last use (unix s), 0 unknown
    double last_invalidate = -1e9;
    double failing_since = 0;   // first failure of the current run of failures, 0: none
    long last_aadsts = 0;       // AADSTS code of the last failure
    std::string last_code;      // OAuth error of the last failure ("invalid_grant")
    int64_t fresh_rejected = 0; // acquisition time of a fresh token upstream rejected, 0: none
    uint64_t generation = 0;
};

// A device-code sign-in in progress.
struct Broker::LoginState {
    std::string account;
    uint64_t generation = 0;
    DeviceCode dc;
    double next_poll = 0;
    double deadline = 0;
    bool polling = false;
    TokenCallback done;
    std::function<bool()> wanted;
};

namespace {
constexpr double INVALIDATE_INTERVAL = 10.0;
// A token upstream rejects within this many seconds of its acquisition is
// "fresh": Exchange refusing it means a permission or policy problem, not
// a token that aged out (alerts.cc's token_rejected).
constexpr int64_t FRESH_TOKEN_AGE = 300;
// Microsoft's documented default: a refresh token not used for 90 days
// expires (AADSTS700082, "inactive for 90.00:00:00"); each use returns a
// fresh one with a fresh window. learn.microsoft.com/entra/identity-
// platform/refresh-tokens ("Token lifetime") and .../configurable-token-
// lifetimes (Refresh Token Max Inactive Time, 90 days, not configurable).
constexpr int64_t REFRESH_INACTIVE_LIFETIME = 90 * 86400;

// What a worker needs for one token request: copies, never references.
struct FetchInput {
    AccountConfig cfg;
    std::shared_ptr<const AccountSecrets> secrets;
    std::shared_ptr<const Config> global;
    std::shared_ptr<TokenStore> store;
    Secret refresh_token;
    Secret device_code;
};

// Uniform random number in [0,1) for backoff jitter.
double jitter01()
{
    static std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// Load the certificate or secret an account authenticates with.
bool load_secrets(const AccountConfig &a, std::shared_ptr<const AccountSecrets> &out,
                  std::string &error)
{
    auto s = std::make_shared<AccountSecrets>();
    if (a.credential == Credential::Certificate &&
        !load_cert_credential(a.certificate, a.private_key, s->cert, error))
        return false;
    if (a.credential == Credential::Secret && !read_secret_file(a.secret_file, s->client_secret, error))
        return false;
    out = std::move(s);
    return true;
}

// True when two account sections ask for the same tokens the same way.
bool same_account(const AccountConfig &a, const AccountConfig &b)
{
    return a.tenant == b.tenant && a.client_id == b.client_id && a.grant == b.grant &&
           a.credential == b.credential && a.certificate == b.certificate &&
           a.private_key == b.private_key && a.assertion_alg == b.assertion_alg &&
           a.secret_file == b.secret_file && a.scope == b.scope;
}

// Add the client authentication fields (assertion or secret), if any.
bool add_client_auth(const FetchInput &in, const std::string &url, FormFields &f,
                     std::string &error)
{
    if (in.cfg.credential == Credential::Secret) {
        f.emplace_back("client_secret", in.secrets->client_secret);
        return true;
    }
    if (in.cfg.credential != Credential::Certificate)
        return true;
    AssertionParams p;
    p.client_id = in.cfg.client_id;
    p.audience = url;
    p.alg = in.cfg.assertion_alg == "RS256" ? SigAlg::RS256 : SigAlg::PS256;
    p.now = (int64_t)wall_now();
    std::string jwt;
    if (!build_client_assertion(in.secrets->cert, p, jwt, error))
        return false;
    f.emplace_back("client_assertion_type",
                   Secret("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
    f.emplace_back("client_assertion", Secret(std::move(jwt)));
    return true;
}

// The form of a token request for the account's grant.
bool build_token_form(const FetchInput &in, const std::string &url, FormFields &f,
                      std::string &error)
{
    f.emplace_back("client_id", Secret(in.cfg.client_id));
    if (!in.device_code.empty()) {
        f.emplace_back("grant_type", Secret("urn:ietf:params:oauth:grant-type:device_code"));
        f.emplace_back("device_code", in.device_code);
    } else if (in.cfg.grant == Grant::RefreshToken) {
        f.emplace_back("grant_type", Secret("refresh_token"));
        f.emplace_back("refresh_token", in.refresh_token);
        f.emplace_back("scope", Secret(in.cfg.scope));
    } else {
        f.emplace_back("grant_type", Secret("client_credentials"));
        f.emplace_back("scope", Secret(in.cfg.scope));
    }
    return add_client_auth(in, url, f, error);
}

// This thread's HTTP client (one easy handle per worker, reused).
HttpClient &thread_http(const Config &g)
{
    thread_local std::unique_ptr<HttpClient> http;
    thread_local std::string key;
    HttpOptions o = idp_http_options(g);
    std::string k = o.ca_file + "|" + std::to_string(o.timeout_ms) + "|" + o.proxy + "|" + o.no_proxy;
    if (!http || k != key) {
        http = std::make_unique<HttpClient>(o);
        key = k;
    }
    return *http;
}

// A failed result that never reached the IdP.
TokenResult local_failure(const std::string &message)
{
    TokenResult r;
    r.outcome = Outcome::Temporary;
    r.message = message;
    return r;
}

// Worker side: one POST to the token endpoint, and the store write that
// must happen before a rotated refresh token's access token is used.
TokenResult fetch_token(const FetchInput &in)
{
    std::string url = token_endpoint(in.global->authority, in.cfg.tenant);
    FormFields form;
    std::string error;
    if (!build_token_form(in, url, form, error))
        return local_failure("cannot build the token request: " + error);
    HttpResponse resp;
    if (!thread_http(*in.global).post_form(url, form, resp, error))
        return local_failure(error);
    TokenResult r = read_token_response(resp);
    bool delegated = in.cfg.grant == Grant::RefreshToken || !in.device_code.empty();
    if (r.outcome == Outcome::Ok && delegated && !r.refresh_token.empty() &&
        !in.store->save(in.cfg.name, r.refresh_token, error)) {
        r = local_failure("cannot store the rotated refresh token: " + error);
    }
    return r;
}

// Worker side: start a device-code sign-in.
TokenResult fetch_devicecode(const FetchInput &in, DeviceCode &dc)
{
    FormFields f;
    f.emplace_back("client_id", Secret(in.cfg.client_id));
    f.emplace_back("scope", Secret(in.cfg.scope));
    HttpResponse resp;
    std::string error;
    std::string url = devicecode_endpoint(in.global->authority, in.cfg.tenant);
    if (!thread_http(*in.global).post_form(url, f, resp, error))
        return local_failure(error);
    TokenResult r;
    r.outcome = read_devicecode_response(resp, dc, r.message);
    return r;
}

// The index in kIdpOutcomes of a token endpoint answer.
size_t idp_outcome_index(Outcome o)
{
    switch (o) {
    case Outcome::Ok: return 0;
    case Outcome::Permanent: return 2;
    case Outcome::RateLimited: return 3;
    default: return 1;
    }
}

// The protocol code of a failed outcome.
const char *failure_code(Outcome o)
{
    switch (o) {
    case Outcome::RateLimited: return "rate_limited";
    case Outcome::Permanent: return "idp_refused";
    default: return "idp_unavailable";
    }
}
} // namespace

Broker::Broker(Workers &workers, BackoffPolicy policy) : workers_(workers), policy_(policy) {}
Broker::~Broker() = default;

// Load every account of cfg (credentials, refresh tokens of new ones)
// without touching the running ones: a failure leaves them as they were.
bool Broker::stage(const Config &cfg, TokenStore &store, std::vector<Staged> &out, std::string &error) const
{
    for (const AccountConfig &a : cfg.accounts) {
        Staged s{a.name, std::make_unique<AccountState>(), false};
        if (!load_secrets(a, s.st->secrets, error))
            return false;
        s.st->cfg = a;
        auto old = accounts_.find(a.name);
        s.keep = old != accounts_.end() && old->second && same_account(old->second->cfg, a);
        if (!s.keep && a.grant == Grant::RefreshToken && !store.load(a.name, s.st->refresh_token, error) &&
            !error.empty())
            return false;
        if (!s.keep && !s.st->refresh_token.empty())
            s.st->last_refresh = store.saved_at(a.name);
        error.clear();
        out.push_back(std::move(s));
    }
    return true;
}

// Make the staged accounts the running ones; unchanged ones keep their
// cache and refresh token, changed and removed ones answer their waiters.
void Broker::commit(std::vector<Staged> &staged)
{
    std::map<std::string, std::unique_ptr<AccountState>, std::less<>> next;
    for (auto &s : staged) {
        auto old = s.keep ? accounts_.find(s.name) : accounts_.end();
        if (old != accounts_.end()) {
            old->second->cfg = s.st->cfg;
            old->second->secrets = s.st->secrets;
            next[s.name] = std::move(old->second);
            continue;
        }
        s.st->generation = ++generation_;
        next[s.name] = std::move(s.st);
    }
    for (auto &[name, st] : accounts_) {
        if (!st)
            continue;
        TokenReply r;  // a changed or removed account: the caller may retry
        r.code = "busy";
        r.reason = "account " + name + " was changed by a reload; retry";
        r.retry_after = 1;
        answer_waiters(*st, r);
    }
    accounts_ = std::move(next);
}

// (Re)load accounts: all of cfg or, on any failure, none of it.
bool Broker::configure(const Config &cfg, std::string &error)
{
    auto store = std::make_shared<TokenStore>(cfg.state_dir);
    std::vector<Staged> staged;
    if (!store->open(error) || !stage(cfg, *store, staged, error))
        return false;
    commit(staged);
    cfg_ = std::make_shared<const Config>(cfg);
    store_ = store;
    return true;
}

// Ask the IdP for every account that has no token yet.
void Broker::warm()
{
    for (auto &[name, st] : accounts_) {
        bool signed_in = st->cfg.grant != Grant::RefreshToken || !st->refresh_token.empty();
        if (!st->in_flight && st->token.empty() && signed_in)
            start_fetch(*st);
    }
}

// The cached token as a reply.
TokenReply Broker::reply_from_cache(const AccountState &st) const
{
    TokenReply r;
    r.ok = true;
    r.token = st.token;
    r.expires = st.times.expires;
    r.hash = st.hash;
    return r;
}

// The last failure as a reply, with how long to wait.
TokenReply Broker::reply_from_failure(const AccountState &st) const
{
    TokenReply r;
    r.temporary = st.last_outcome != Outcome::Permanent;
    r.code = failure_code(st.last_outcome);
    r.reason = st.last_error.empty() ? "no token yet" : st.last_error;
    double wait = st.next_attempt - wall_now();
    r.retry_after = wait > 0 ? (int)std::ceil(wait) : 1;
    return r;
}

// Hand reply to every caller waiting on st's request.
void Broker::answer_waiters(AccountState &st, const TokenReply &reply)
{
    std::vector<TokenCallback> w;
    w.swap(st.waiters);
    if (reply.ok)
        st.served += w.size();
    for (auto &cb : w)
        cb(reply);
}

// Serve from cache, join the request in flight, or start one.
void Broker::get_token(const std::string &account, TokenCallback cb)
{
    auto it = accounts_.find(account);
    if (it == accounts_.end()) {
        TokenReply r;
        r.temporary = false;
        r.code = "unknown_account";
        r.reason = "no account named " + proto::sanitize(account, 64);
        return cb(r);
    }
    AccountState &st = *it->second;
    double now = wall_now();
    if (token_servable(st.times, (int64_t)now) && !st.token.empty()) {
        st.served++;
        cb(reply_from_cache(st));
        if (!st.in_flight && now >= st.next_attempt &&
            token_needs_refresh(st.times, (int64_t)now, cfg_->refresh_ahead))
            start_fetch(st);
        return;
    }
    if (st.cfg.grant == Grant::RefreshToken && st.refresh_token.empty()) {
        TokenReply r;
        r.temporary = false;
        r.code = "no_refresh_token";
        r.reason = "account " + account + " is not signed in: run exoauthctl login " + account;
        return cb(r);
    }
    if (!st.in_flight && now < st.next_attempt)
        return cb(reply_from_failure(st));
    st.waiters.push_back(std::move(cb));
    if (!st.in_flight)
        start_fetch(st);
}

// Submit st's token request to a worker (single flight: one at a time).
void Broker::start_fetch(AccountState &st)
{
    st.in_flight = true;
    auto in = std::make_shared<FetchInput>();
    in->cfg = st.cfg;
    in->secrets = st.secrets;
    in->global = cfg_;
    in->store = store_;
    in->refresh_token = st.refresh_token;
    auto result = std::make_shared<TokenResult>();
    auto seconds = std::make_shared<double>(0);
    std::string name = st.cfg.name;
    uint64_t gen = st.generation;
    log_debug("account %s: requesting a token from the IdP", name.c_str());
    workers_.submit(
        [in, result, seconds] {
            double t0 = mono_now();
            *result = fetch_token(*in);
            *seconds = mono_now() - t0;
        },
        [this, name, gen, result, seconds] { finish_fetch(name, gen, std::move(*result), *seconds); });
}

// Record a failure and schedule the next attempt.
void Broker::note_failure(AccountState &st, const TokenResult &r)
{
    if (st.failures++ == 0)
        st.failing_since = wall_now();
    st.last_aadsts = r.aadsts;
    st.last_code = proto::sanitize(r.error, 64);
    st.last_outcome = r.outcome == Outcome::Ok ? Outcome::Temporary : r.outcome;
    st.last_error = proto::sanitize(r.message, 400);
    double delay = r.outcome == Outcome::RateLimited
                       ? rate_limit_delay(policy_, r.retry_after, st.failures, jitter01())
                       : backoff_delay(policy_, st.failures, jitter01());
    st.next_attempt = wall_now() + delay;
    log_warning("account %s: %s (attempt %d failed; next in %.1f s)", st.cfg.name.c_str(),
                st.last_error.c_str(), st.failures, delay);
}

// A token arrived: the account is well again.
void Broker::clear_failures(AccountState &st)
{
    st.failures = 0;
    st.next_attempt = 0;
    st.failing_since = 0;
    st.last_aadsts = 0;
    st.last_code.clear();
    st.last_error.clear();
}

// Completion of a token request on the event loop.
void Broker::finish_fetch(const std::string &name, uint64_t generation, TokenResult r, double seconds)
{
    daemon_metrics().idp_seconds.observe(seconds);
    auto it = accounts_.find(name);
    if (it == accounts_.end() || it->second->generation != generation)
        return;
    AccountState &st = *it->second;
    st.in_flight = false;
    st.idp_requests++;
    st.idp_outcomes[idp_outcome_index(r.outcome)]++;
    idp_requests_++;
    if (r.outcome != Outcome::Ok) {
        note_failure(st, r);
        bool servable = token_servable(st.times, (int64_t)wall_now()) && !st.token.empty();
        answer_waiters(st, servable ? reply_from_cache(st) : reply_from_failure(st));
        return;
    }
    int64_t now = (int64_t)wall_now();
    st.token = std::move(r.access_token);
    st.times = TokenTimes{now, now + r.expires_in};
    st.hash = short_hash(st.token.str());
    if (!r.refresh_token.empty())
        st.refresh_token = std::move(r.refresh_token);
    if (st.cfg.grant == Grant::RefreshToken)
        st.last_refresh = now;
    clear_failures(st);
    log_info("account %s: token %s acquired, valid for %lld s", name.c_str(), st.hash.c_str(),
             (long long)r.expires_in);
    answer_waiters(st, reply_from_cache(st));
}

// Forget a token upstream rejected, if it is still the current one.
bool Broker::invalidate(const std::string &account, const std::string &hash, std::string &why)
{
    auto it = accounts_.find(account);
    if (it == accounts_.end()) {
        why = "unknown account";
        return false;
    }
    AccountState &st = *it->second;
    double now = wall_now();
    if (st.token.empty() || !secure_equal(st.hash, hash)) {
        why = "not the current token";
        return false;
    }
    if (now - st.last_invalidate < INVALIDATE_INTERVAL) {
        why = "a token of this account was invalidated less than 10 s ago";
        return false;
    }
    log_warning("account %s: token %s rejected upstream; dropped", account.c_str(), st.hash.c_str());
    if ((int64_t)now - st.times.acquired < FRESH_TOKEN_AGE)
        st.fresh_rejected = st.times.acquired;
    st.token.clear();
    st.times = TokenTimes{};
    st.hash.clear();
    st.last_invalidate = now;
    st.rejected++;
    return true;
}

// Background work: refresh ahead of expiry, retry after transient
// failures, poll device-code sign-ins.
int Broker::tick()
{
    double now = wall_now();
    for (auto &[name, st] : accounts_) {
        if (st->in_flight || now < st->next_attempt)
            continue;
        bool signed_in = st->cfg.grant != Grant::RefreshToken || !st->refresh_token.empty();
        bool has = !st->token.empty();
        bool refresh = has && token_needs_refresh(st->times, (int64_t)now, cfg_->refresh_ahead);
        bool retry = !has && st->failures > 0 && st->last_outcome != Outcome::Permanent;
        if (signed_in && (refresh || retry))
            start_fetch(*st);
    }
    for (size_t i = 0; i < logins_.size(); i++) {
        auto ls = logins_[i];
        if (!ls->polling && !ls->wanted()) {
            log_info("account %s: sign-in abandoned by exoauthctl", ls->account.c_str());
            logins_.erase(logins_.begin() + (long)i--);
        } else if (!ls->polling && now >= ls->next_poll) {
            login_poll(ls);
        }
    }
    return 1000;
}

// When the account's credential stops being valid (unix seconds): the
// certificate's notAfter, or the secret_expires the administrator wrote
// down; 0 when not known.
static int64_t credential_expiry(const AccountState &st)
{
    int64_t t = st.secrets && st.secrets->cert.cert ? cert_not_after(st.secrets->cert.cert.get())
                                                    : st.cfg.secret_expires;
    return t > 0 ? t : 0;
}

// credential_expiry for STATUS: "-" when not known.
static std::string credential_expires(const AccountState &st)
{
    int64_t t = credential_expiry(st);
    return t > 0 ? std::to_string(t) : "-";
}

// The state STATUS and METRICS name: empty, valid, refreshing, backoff, failed.
static const char *account_state(const AccountState &st, double now)
{
    return st.in_flight ? "refreshing"
           : token_servable(st.times, (int64_t)now) && !st.token.empty() ? "valid"
           : now < st.next_attempt ? "backoff"
           : st.failures ? "failed"
                         : "empty";
}

// The kind of credential, for STATUS.
static const char *credential_kind(const AccountConfig &a)
{
    return a.credential == Credential::Certificate ? "certificate"
           : a.credential == Credential::Secret    ? "secret"
                                                   : "none";
}

// One ACCOUNT line per account for STATUS.
std::vector<proto::Fields> Broker::status() const
{
    std::vector<proto::Fields> out;
    double now = wall_now();
    for (const auto &[name, st] : accounts_) {
        const char *state = account_state(*st, now);
        bool cc = st->cfg.grant == Grant::ClientCredentials;
        out.push_back({{"name", name},
                       {"grant", cc ? "client_credentials" : "refresh_token"},
                       {"state", state},
                       {"expires", std::to_string(st->times.expires)},
                       {"hash", st->hash.empty() ? "-" : st->hash},
                       {"idp_requests", std::to_string(st->idp_requests)},
                       {"served", std::to_string(st->served)},
                       {"signed_in", cc || !st->refresh_token.empty() ? "yes" : "no"},
                       {"credential", credential_kind(st->cfg)},
                       {"credential_expires", credential_expires(*st)},
                       {"last_error", st->last_error}});
    }
    return out;
}

// What METRICS shows of each account.
std::vector<AccountFigures> Broker::figures() const
{
    std::vector<AccountFigures> out;
    double now = wall_now();
    for (const auto &[name, st] : accounts_) {
        AccountFigures f;
        f.name = name;
        f.state = account_state(*st, now);
        f.token_expires = st->token.empty() ? 0 : st->times.expires;
        f.credential = credential_kind(st->cfg);
        f.credential_expires = credential_expiry(*st);
        if (st->cfg.grant == Grant::RefreshToken && !st->refresh_token.empty() && st->last_refresh > 0)
            f.refresh_deadline = st->last_refresh + REFRESH_INACTIVE_LIFETIME;
        std::copy(std::begin(st->idp_outcomes), std::end(st->idp_outcomes), f.idp);
        f.served = st->served;
        f.rejected = st->rejected;
        out.push_back(std::move(f));
    }
    return out;
}

// What the alerts need of each account (alerts.cc decides what to send).
std::vector<AlertFacts> Broker::alert_facts() const
{
    std::vector<AlertFacts> out;
    int64_t now = (int64_t)wall_now();
    for (const auto &[name, st] : accounts_) {
        AlertFacts f;
        f.account = name;
        f.delegated = st->cfg.grant == Grant::RefreshToken;
        f.signed_in = !f.delegated || !st->refresh_token.empty();
        f.permanent = st->failures > 0 && st->last_outcome == Outcome::Permanent;
        f.failing_since = st->failures > 0 && !f.permanent ? st->failing_since : 0;
        f.error = st->last_error;
        f.error_code = st->last_code;
        f.aadsts = st->last_aadsts;
        f.credential = credential_kind(st->cfg);
        f.credential_expires = credential_expiry(*st);
        int64_t rt_deadline = f.delegated && f.signed_in && st->last_refresh > 0
                                  ? st->last_refresh + REFRESH_INACTIVE_LIFETIME : 0;
        if (rt_deadline > 0 && (f.credential_expires == 0 || rt_deadline < f.credential_expires)) {
            f.credential = "refresh token";
            f.credential_expires = rt_deadline;
        }
        bool survived = !st->token.empty() && now - st->times.acquired >= FRESH_TOKEN_AGE;
        f.fresh_rejected = st->fresh_rejected != 0 && !survived;
        out.push_back(std::move(f));
    }
    return out;
}

// Start a device-code sign-in for a delegated account.
void Broker::login(const std::string &account, PendingCallback pending, TokenCallback done,
                   std::function<bool()> wanted)
{
    TokenReply fail;
    fail.temporary = false;
    auto it = accounts_.find(account);
    if (it == accounts_.end() || it->second->cfg.grant != Grant::RefreshToken) {
        fail.code = it == accounts_.end() ? "unknown_account" : "not_delegated";
        fail.reason = it == accounts_.end() ? "no such account"
                                            : "account uses client credentials; nothing to sign in";
        return done(fail);
    }
    auto in = std::make_shared<FetchInput>();
    in->cfg = it->second->cfg;
    in->global = cfg_;
    auto ls = std::make_shared<LoginState>();
    ls->account = account;
    ls->generation = it->second->generation;
    ls->done = std::move(done);
    ls->wanted = std::move(wanted);
    auto r = std::make_shared<TokenResult>();
    workers_.submit([in, ls, r] { *r = fetch_devicecode(*in, ls->dc); },
                    [this, ls, r, pending] {
                        if (r->outcome != Outcome::Ok) {
                            TokenReply f;
                            f.temporary = r->outcome != Outcome::Permanent;
                            f.code = failure_code(r->outcome);
                            f.reason = proto::sanitize(r->message, 400);
                            return ls->done(f);
                        }
                        double now = wall_now();
                        ls->deadline = now + ls->dc.expires_in;
                        ls->next_poll = now + ls->dc.interval;
                        logins_.push_back(ls);
                        log_info("account %s: device-code sign-in started", ls->account.c_str());
                        pending(LoginPending{ls->dc.user_code, ls->dc.verification_uri,
                                             ls->dc.message, ls->dc.expires_in});
                    });
}

// Ask the token endpoint whether the person has signed in yet.
void Broker::login_poll(std::shared_ptr<LoginState> ls)
{
    auto it = accounts_.find(ls->account);
    if (it == accounts_.end() || it->second->generation != ls->generation) {
        TokenResult r;
        r.outcome = Outcome::Permanent;
        r.message = "account changed by a reload during sign-in";
        return login_finish(ls, std::move(r));
    }
    ls->polling = true;
    auto in = std::make_shared<FetchInput>();
    in->cfg = it->second->cfg;
    in->secrets = it->second->secrets;
    in->global = cfg_;
    in->store = store_;
    in->device_code = ls->dc.device_code;
    auto r = std::make_shared<TokenResult>();
    workers_.submit([in, r] { *r = fetch_token(*in); },
                    [this, ls, r] { login_finish(ls, std::move(*r)); });
}

// Handle a poll answer: wait more, or finish with the stored token.
void Broker::login_finish(std::shared_ptr<LoginState> ls, TokenResult r)
{
    ls->polling = false;
    double now = wall_now();
    bool expired = now >= ls->deadline;
    if ((r.outcome == Outcome::Pending || r.outcome == Outcome::Temporary ||
         r.outcome == Outcome::RateLimited) && !expired) {
        if (r.error == "slow_down")
            ls->dc.interval += 5;
        ls->next_poll = now + std::max(ls->dc.interval, r.retry_after > 0 && r.error != "slow_down"
                                                           ? r.retry_after : 0);
        return;
    }
    logins_.erase(std::remove(logins_.begin(), logins_.end(), ls), logins_.end());
    TokenReply reply;
    auto it = accounts_.find(ls->account);
    if (r.outcome == Outcome::Ok && it != accounts_.end() && !r.refresh_token.empty()) {
        AccountState &st = *it->second;
        int64_t t = (int64_t)now;
        st.token = std::move(r.access_token);
        st.times = TokenTimes{t, t + r.expires_in};
        st.hash = short_hash(st.token.str());
        st.refresh_token = std::move(r.refresh_token);
        st.last_refresh = t;
        clear_failures(st);
        log_info("account %s: signed in; refresh token stored", ls->account.c_str());
        return ls->done(reply_from_cache(st));
    }
    reply.temporary = false;
    reply.code = r.error == "expired_token" || expired ? "expired"
                 : r.error == "authorization_declined" || r.error == "access_denied" ? "declined"
                 : r.outcome == Outcome::Ok ? "no_refresh_token"
                                            : "idp_refused";
    reply.reason = expired && r.message.empty() ? "the code expired before sign-in"
                   : r.outcome == Outcome::Ok  ? "the IdP returned no refresh token (is offline_access in scope?)"
                                               : proto::sanitize(r.message, 400);
    log_warning("account %s: sign-in failed: %s", ls->account.c_str(), reply.reason.c_str());
    ls->done(reply);
}

} // namespace exo
