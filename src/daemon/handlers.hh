// handlers.hh: the request handlers of exoauthd, one per command, apart
// from the event loop so that neither needs the other's insides: the
// server owns the connections and calls dispatch(); handlers answer
// through the Replier. Requests are parsed and bounded already; the peer's
// rights decide before any work is done.
#pragma once

#include "broker.hh"
#include "connection.hh"
#include "policy.hh"
#include "protocol.hh"
#include "validator.hh"

#include <memory>

namespace exo {

class Handlers {
public:
    Handlers(Broker &broker, Validator &validator, const Policy &policy, Replier &out);
    // Run one parsed request of c, if c's rights allow it.
    void dispatch(const std::shared_ptr<Connection> &c, const proto::Request &req);

private:
    void refuse(Connection &c, const proto::Request &req, const Refusal &no);
    void cmd_token(const std::shared_ptr<Connection> &c, const proto::Request &req);
    void cmd_invalidate(const std::shared_ptr<Connection> &c, const proto::Request &req);
    void cmd_status(const std::shared_ptr<Connection> &c, const proto::Request &req);
    void cmd_login(const std::shared_ptr<Connection> &c, const proto::Request &req);
    void cmd_validate(const std::shared_ptr<Connection> &c, const proto::Request &req);
    void cmd_metrics(const std::shared_ptr<Connection> &c, const proto::Request &req);
    void count_refusal(const proto::Request &req, const Refusal &no, double started);

    Broker &broker_;
    Validator &validator_;
    const Policy &policy_;
    Replier &out_;
};

} // namespace exo
