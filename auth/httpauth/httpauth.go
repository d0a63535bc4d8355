// Package httpauth puts the broker's security in front of the HTTP
// gateway and console (gateway.WithMiddleware): every request but the
// health probes needs HTTP basic authentication with a broker user's
// password (the same SCRAM credentials, checked as SASL/PLAIN checks
// them), and each route needs the ACL Kafka would ask for the same
// operation: reading records READ on the topic, producing WRITE, deleting
// a topic DELETE, and so on (rules). Serve it over TLS: basic
// authentication sends the password with every request.
package httpauth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/auth"
)

// Checker is what the middleware asks the broker (a *broker.Broker is one).
type Checker interface {
	CheckPassword(user, password string) bool
	// AuthenticationFailed records a failed authentication from host and
	// returns how long to wait before answering it.
	AuthenticationFailed(mechanism, user, host string) time.Duration
	Authorize(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool
}

// rule is the ACL one route needs; resource names come from the path
// ({topic}, {group}) or are the cluster's.
type rule struct {
	op    kmsg.ACLOperation
	rt    kmsg.ACLResourceType
	param string // path value naming the resource; "" for the cluster
}

var (
	cluster = func(op kmsg.ACLOperation) rule { return rule{op, kmsg.ACLResourceTypeCluster, ""} }
	topic   = func(op kmsg.ACLOperation) rule { return rule{op, kmsg.ACLResourceTypeTopic, "topic"} }
	group   = func(op kmsg.ACLOperation) rule { return rule{op, kmsg.ACLResourceTypeGroup, "group"} }
	public  = rule{} // no authentication
)

// rules maps the gateway's routes (gateway/routes.go) to the ACL each
// needs. Listings that Kafka filters per resource (topics, groups) need
// DESCRIBE on the cluster here, since the middleware does not rewrite
// answers. A route missing here needs nothing but authentication: the
// gateway answers unknown /api/ paths with 404, and / serves the console.
var rules = map[string]rule{
	"GET /healthz": public,
	"GET /readyz":  public,

	"GET /api/v1/cluster":                  cluster(kmsg.ACLOperationDescribe),
	"GET /api/v1/topics":                   cluster(kmsg.ACLOperationDescribe),
	"POST /api/v1/topics":                  cluster(kmsg.ACLOperationCreate),
	"GET /api/v1/topics/{topic}":           topic(kmsg.ACLOperationDescribe),
	"DELETE /api/v1/topics/{topic}":        topic(kmsg.ACLOperationDelete),
	"GET /api/v1/topics/{topic}/configs":   topic(kmsg.ACLOperationDescribeConfigs),
	"PATCH /api/v1/topics/{topic}/configs": topic(kmsg.ACLOperationAlterConfigs),
	"POST /api/v1/topics/{topic}/records":  topic(kmsg.ACLOperationWrite),
	"GET /api/v1/topics/{topic}/records":   topic(kmsg.ACLOperationRead),
	"GET /api/v1/topics/{topic}/tail":      topic(kmsg.ACLOperationRead),
	"GET /api/v1/groups":                   cluster(kmsg.ACLOperationDescribe),
	"GET /api/v1/groups/{group}":           group(kmsg.ACLOperationDescribe),
	"DELETE /api/v1/groups/{group}":        group(kmsg.ACLOperationDelete),
	"GET /api/v1/stats":                    cluster(kmsg.ACLOperationDescribe),
	"GET /api/v1/stats/stream":             cluster(kmsg.ACLOperationDescribe),
	"GET /api/v1/alerts":                   cluster(kmsg.ACLOperationDescribe),
	"POST /api/v1/alerts":                  cluster(kmsg.ACLOperationAlter),
	"DELETE /api/v1/alerts/{name}":         cluster(kmsg.ACLOperationAlter),
	"GET /metrics":                         cluster(kmsg.ACLOperationDescribe),
}

// Middleware authenticates and authorizes every request with c. A failed
// authentication is answered after the delay c gives.
func Middleware(c Checker) func(http.Handler) http.Handler {
	// A mux of the same patterns as the gateway's resolves each request
	// to its rule and path values.
	mux := http.NewServeMux()
	for pattern, rl := range rules {
		mux.HandleFunc(pattern, func(_ http.ResponseWriter, r *http.Request) {
			d := r.Context().Value(decisionKey{}).(*decision)
			d.rule, d.known = rl, true
			if rl.param != "" {
				d.name = r.PathValue(rl.param)
			}
		})
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d := &decision{name: auth.ClusterName}
			mux.ServeHTTP(discard{}, r.WithContext(context.WithValue(r.Context(), decisionKey{}, d)))
			if d.known && d.rule == public {
				next.ServeHTTP(w, r)
				return
			}
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				host = r.RemoteAddr
			}
			user, pass, ok := r.BasicAuth()
			if !ok || !c.CheckPassword(user, pass) {
				if ok {
					select {
					case <-time.After(c.AuthenticationFailed("HTTP basic", user, host)):
					case <-r.Context().Done():
					}
				}
				w.Header().Set("WWW-Authenticate", `Basic realm="eddy", charset="UTF-8"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			if d.known {
				if !c.Authorize("User:"+user, host, d.rule.op, d.rule.rt, d.name) {
					http.Error(w, fmt.Sprintf("%s on %s %q is not allowed for User:%s", d.rule.op, d.rule.rt, d.name, user), http.StatusForbidden)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

type decisionKey struct{}

type decision struct {
	rule  rule
	name  string
	known bool
}

// discard is the ResponseWriter of the rule lookup.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
