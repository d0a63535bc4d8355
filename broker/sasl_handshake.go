package broker

// SaslHandshake (key 17), v0-v1: the client names its SASL mechanism; the
// answer lists the listener's enabled mechanisms. With v1 the exchange
// continues in SaslAuthenticate requests; with v0 (kafka-python 2.0)
// the client's next frames are bare SASL tokens answered by bare tokens
// (security.go, dispatchRawSASL).
//
// On a listener without SASL, or once authenticated, the answer is
// ILLEGAL_SASL_STATE; an unknown or disabled mechanism gets
// UNSUPPORTED_SASL_MECHANISM. Both close the connection after the answer.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/auth"
)

func init() { register(kmsg.SASLHandshake.Int16(), 0, 1, handleSaslHandshake) }

func handleSaslHandshake(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error) {
	r := req.(*kmsg.SASLHandshakeRequest)
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	l := c.sec.l
	if l.usesSASL() {
		resp.SupportedMechanisms = l.Mechanisms
	}
	switch {
	case !l.usesSASL() || c.sec.authenticated || c.sec.session != nil:
		resp.ErrorCode = kerr.IllegalSaslState.Code
	case !slices.Contains(l.Mechanisms, r.Mechanism):
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
	}
	if resp.ErrorCode != 0 {
		c.logger.Info("SASL handshake refused", "mechanism", r.Mechanism, "err", kerr.ErrorForCode(resp.ErrorCode))
		p.closeAfter = true
		return resp, nil
	}
	s, err := auth.NewSession(r.Mechanism, c.b.creds)
	if err != nil { // cannot happen: the listener's mechanisms are validated
		return nil, err
	}
	c.sec.session, c.sec.mechanism = s, r.Mechanism
	c.sec.rawSASL = r.Version == 0
	return resp, nil
}
