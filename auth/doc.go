// Package auth holds Eddy's security logic, free of network I/O so that it
// can be tested and fuzzed on its own:
//
//   - sasl.go: the server side of the SASL mechanisms PLAIN, SCRAM-SHA-256
//     and SCRAM-SHA-512 as state machines (Session.Step takes the client's
//     bytes and returns the server's);
//   - credentials.go, store.go: SCRAM credentials (salt, iterations, stored
//     key, server key — never a password) and the file that keeps them
//     under the data directory, through storage/vfs;
//   - acl.go, authorizer.go: ACLs in Kafka's model (principal, host,
//     operation, allow/deny, resource type, literal/prefixed/wildcard
//     pattern) and the authorizer that decides each request;
//   - throttle.go: the delay imposed after repeated failed authentications.
//
// The broker (package broker) wires these to listeners and to every Kafka
// API.
package auth
