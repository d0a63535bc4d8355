package broker

// Shared by the ACL APIs (create_acls.go, describe_acls.go,
// delete_acls.go): conversions between kmsg and auth.ACL, and the answer
// when no authorizer is configured (SECURITY_DISABLED, as Kafka).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/auth"
)

var securityDisabledMsg = "No authorizer is configured on the broker (authorizer.class.name)."

func securityDisabled() (int16, *string) {
	msg := securityDisabledMsg
	return kerr.SecurityDisabled.Code, &msg
}

// aclFilter converts a DescribeAcls/DeleteAcls filter. Before v1 there is
// no pattern type: only literal patterns existed.
func aclFilter(version int16, rt kmsg.ACLResourceType, name *string, pt kmsg.ACLResourcePatternType, principal, host *string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) auth.Filter {
	if version == 0 {
		pt = kmsg.ACLResourcePatternTypeLiteral
	}
	return auth.Filter{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: host, Operation: op, Permission: perm}
}

// errorMessage returns a pointer to err's text.
func errorMessage(err error) *string {
	s := err.Error()
	return &s
}
