package broker

// Authorization: with an authorizer configured (WithAuthorizer,
// authorizer.class.name), every request is checked before its handler runs
// by the rule of its API in authorizeAPIs (authorize_apis.go), following
// Kafka's authorization table. A rule either lets the request through,
// answers it at once with the API's authorization error (the
// *_AUTHORIZATION_FAILED codes), or narrows it: the entries the principal
// may not touch are removed from the request and put back in the
// response, with the error, by a fixup run when the handler's response is
// finished (pending.finish). Lists are filtered the same way: Metadata,
// ListGroups and ListTransactions show only what the principal may
// describe.
//
// An API without a rule is refused (the connection is closed): a new API
// cannot skip authorization by omission, and TestAuthorizationMatrix fails
// for it.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/auth"
)

// authzRule decides one request. It may modify req in place (dropping
// refused entries). It returns a response to send instead of serving req
// (deny, possibly errNoResponse as err for acks=0 produce), and/or a fixup
// that completes the handler's response.
type authzRule func(z *authz, req kmsg.Request) (deny kmsg.Response, fixup func(kmsg.Response), err error)

// authorizeAPIs holds the rule of every API; publicAPIs need none.
var (
	authorizeAPIs = map[kmsg.Key]authzRule{}
	publicAPIs    = map[kmsg.Key]bool{kmsg.ApiVersions: true, kmsg.SASLHandshake: true, kmsg.SASLAuthenticate: true}
)

// authz is one request's authorization context.
type authz struct {
	c         *conn
	a         *auth.Authorizer
	principal string
	host      string
}

func (z *authz) may(op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	return z.a.Authorize(z.principal, z.host, op, rt, name)
}
func (z *authz) topic(op kmsg.ACLOperation, name string) bool {
	return z.may(op, kmsg.ACLResourceTypeTopic, name)
}
func (z *authz) group(op kmsg.ACLOperation, name string) bool {
	return z.may(op, kmsg.ACLResourceTypeGroup, name)
}
func (z *authz) txnID(op kmsg.ACLOperation, name string) bool {
	return z.may(op, kmsg.ACLResourceTypeTransactionalId, name)
}
func (z *authz) cluster(op kmsg.ACLOperation) bool {
	return z.may(op, kmsg.ACLResourceTypeCluster, auth.ClusterName)
}

// topicName resolves a topic given by name or id ("" for an unknown id:
// the handler answers UNKNOWN_TOPIC_ID, which reveals nothing).
func (z *authz) topicName(name *string, id [16]byte) string {
	if name != nil && *name != "" {
		return *name
	}
	if t := z.c.b.topicByID(id); t != nil {
		return t.name
	}
	return ""
}

// serveAuthorized runs h for req once the connection's principal is
// authorized for it.
func (c *conn) serveAuthorized(h *handler, req kmsg.Request, p *pending) (kmsg.Response, error) {
	a := c.b.authz
	key := kmsg.Key(h.key)
	if a == nil || publicAPIs[key] || c.sec.internal || a.IsSuperUser(c.sec.principal) {
		return h.fn(c, req, p)
	}
	rule := authorizeAPIs[key]
	if rule == nil {
		return nil, fmt.Errorf("no authorization rule for %s: refused", kmsg.NameForKey(h.key))
	}
	deny, fixup, err := rule(&authz{c: c, a: a, principal: c.sec.principal, host: c.sec.host}, req)
	if err != nil {
		return nil, err
	}
	if deny != nil {
		return deny, nil
	}
	p.fixup = fixup
	return h.fn(c, req, p)
}

// split keeps in place the entries of s that ok accepts and returns the
// others.
func split[T any](s *[]T, ok func(*T) bool) (refused []T) {
	kept := (*s)[:0:0]
	for i := range *s {
		if ok(&(*s)[i]) {
			kept = append(kept, (*s)[i])
		} else {
			refused = append(refused, (*s)[i])
		}
	}
	*s = kept
	return refused
}

// filter keeps the entries of s that ok accepts.
func filter[T any](s []T, ok func(*T) bool) []T {
	out := s[:0]
	for i := range s {
		if ok(&s[i]) {
			out = append(out, s[i])
		}
	}
	return out
}

// then chains fixups (nil ones are skipped).
func then(fs ...func(kmsg.Response)) func(kmsg.Response) {
	var all []func(kmsg.Response)
	for _, f := range fs {
		if f != nil {
			all = append(all, f)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return func(r kmsg.Response) {
		for _, f := range all {
			f(r)
		}
	}
}
