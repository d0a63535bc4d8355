package broker

import (
	"crypto/tls"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/eddy-streaming/eddy/auth"
)

// WithAuthorizer turns ACL authorization on: every request is checked
// against the ACLs (CreateAcls, `eddy acl add`) and anything not allowed is
// denied, except for cfg.SuperUsers. Setting authorizer.class.name (any
// value: Kafka's StandardAuthorizer or AclAuthorizer class names are
// accepted) with super.users=User:a;User:b and
// allow.everyone.if.no.acl.found does the same from a config file.
func WithAuthorizer(cfg auth.AuthorizerConfig) Option {
	return optFn(func(c *config) { c.authorizer = &cfg })
}

// securityKeys are the settings handled here rather than in configs.go.
var securityKeys = map[string]bool{
	"listeners": true, "advertised.listeners": true, "listener.security.protocol.map": true,
	"authorizer.class.name": true, "super.users": true, "allow.everyone.if.no.acl.found": true,
}

// perListenerKeys may also be set as listener.name.<name>.<key>.
var perListenerKeys = map[string]bool{
	"ssl.keystore.location": true, "ssl.key.location": true, "ssl.truststore.location": true,
	"ssl.client.auth": true, "ssl.enabled.protocols": true, "ssl.keystore.type": true,
	"ssl.truststore.type": true, "sasl.enabled.mechanisms": true,
}

// splitSecuritySettings takes the security settings out of settings (Kafka
// names) and applies them to c: listeners and the authorizer.
func splitSecuritySettings(c *config) error {
	sec := map[string]string{}
	for k, v := range c.settings {
		if securityKeys[k] || perListenerKeys[k] || strings.HasPrefix(k, "listener.name.") {
			sec[k] = strings.TrimSpace(v)
			delete(c.settings, k)
		}
	}
	if len(sec) == 0 {
		return nil
	}
	if name := sec["authorizer.class.name"]; name != "" {
		ac := auth.AuthorizerConfig{}
		for _, u := range strings.Split(sec["super.users"], ";") {
			if u = strings.TrimSpace(u); u != "" {
				ac.SuperUsers = append(ac.SuperUsers, u)
			}
		}
		if v := sec["allow.everyone.if.no.acl.found"]; v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("allow.everyone.if.no.acl.found: %q is not a boolean", v)
			}
			ac.AllowIfNoACL = b
		}
		c.authorizer = &ac
	}
	if sec["listeners"] == "" {
		for _, k := range sortedKeys(sec) {
			if perListenerKeys[k] || strings.HasPrefix(k, "listener") {
				return fmt.Errorf("%s is set but listeners is not", k)
			}
		}
		return nil
	}
	protoMap := map[string]string{}
	if m := sec["listener.security.protocol.map"]; m != "" {
		for _, kv := range strings.Split(m, ",") {
			name, proto, ok := strings.Cut(strings.TrimSpace(kv), ":")
			if !ok {
				return fmt.Errorf("listener.security.protocol.map: %q is not NAME:PROTOCOL", kv)
			}
			protoMap[strings.ToUpper(name)] = strings.ToUpper(proto)
		}
	}
	_, advertised, err := parseListenerList("advertised.listeners", sec["advertised.listeners"])
	if err != nil {
		return err
	}
	ls, _, err := parseListenerList("listeners", sec["listeners"])
	if err != nil {
		return err
	}
	for _, nl := range ls {
		l := Listener{Name: nl.name, Addr: nl.addr, Protocol: nl.name, Advertised: advertised[nl.name].addr}
		if p, ok := protoMap[nl.name]; ok {
			l.Protocol = p
		}
		get := func(k string) string {
			if v, ok := sec["listener.name."+strings.ToLower(nl.name)+"."+k]; ok {
				return v
			}
			return sec[k]
		}
		if m := get("sasl.enabled.mechanisms"); m != "" {
			for _, s := range strings.Split(m, ",") {
				l.Mechanisms = append(l.Mechanisms, strings.ToUpper(strings.TrimSpace(s)))
			}
		}
		if l.usesTLS() {
			if l.TLS, err = tlsFromSettings(nl.name, get); err != nil {
				return err
			}
		}
		c.listeners = append(c.listeners, l)
	}
	return nil
}

type namedListener struct{ name, addr string }

// parseListenerList parses NAME://host:port,... in order, and by name.
func parseListenerList(key, s string) ([]namedListener, map[string]namedListener, error) {
	m := map[string]namedListener{}
	if s == "" {
		return nil, m, nil
	}
	var order []namedListener
	for _, item := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(item), "://")
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("%s: %q is not NAME://host:port", key, item)
		}
		nl := namedListener{strings.ToUpper(name), addr}
		if _, dup := m[nl.name]; dup {
			return nil, nil, fmt.Errorf("%s: listener %s named twice", key, nl.name)
		}
		m[nl.name] = nl
		order = append(order, nl)
	}
	return order, m, nil
}

func tlsFromSettings(name string, get func(string) string) (*tls.Config, error) {
	for _, k := range []string{"ssl.keystore.type", "ssl.truststore.type"} {
		if v := get(k); v != "" && !strings.EqualFold(v, "PEM") {
			return nil, fmt.Errorf("listener %s: %s=%s: only PEM files are supported", name, k, v)
		}
	}
	f := TLSFiles{Cert: get("ssl.keystore.location"), Key: get("ssl.key.location"), CA: get("ssl.truststore.location"), ClientAuth: get("ssl.client.auth")}
	if f.Cert == "" {
		return nil, fmt.Errorf("listener %s: ssl.keystore.location (PEM certificate and key) is not set", name)
	}
	if p := get("ssl.enabled.protocols"); p != "" {
		f.MinVersion = tls.VersionTLS13
		for _, v := range strings.Split(p, ",") {
			switch strings.TrimSpace(v) {
			case "TLSv1.2":
				f.MinVersion = tls.VersionTLS12
			case "TLSv1.3":
			default:
				return nil, fmt.Errorf("listener %s: ssl.enabled.protocols: %q is not TLSv1.2 or TLSv1.3", name, v)
			}
		}
	}
	cfg, err := ServerTLS(f)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", name, err)
	}
	return cfg, nil
}

// sortedKeys is for stable error messages.
func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
