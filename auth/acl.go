package auth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Wildcards of Kafka's ACL model.
const (
	WildcardResource  = "*"      // a literal resource name matching every resource
	WildcardPrincipal = "User:*" // every principal
	WildcardHost      = "*"      // every host
	ClusterName       = "kafka-cluster"
	AnonymousUser     = "User:ANONYMOUS"
)

// ACL is one access control entry, as Kafka defines it: Principal may
// Operation (or not: Permission deny) the resources of ResourceType named
// ResourceName (exactly, by prefix, or "*" for all), from Host.
type ACL struct {
	ResourceType kmsg.ACLResourceType        `json:"resource_type"`
	ResourceName string                      `json:"resource_name"`
	PatternType  kmsg.ACLResourcePatternType `json:"pattern_type"`
	Principal    string                      `json:"principal"`
	Host         string                      `json:"host"`
	Operation    kmsg.ACLOperation           `json:"operation"`
	Permission   kmsg.ACLPermissionType      `json:"permission"`
}

func (a ACL) String() string {
	return fmt.Sprintf("%s %s %s on %s %s:%s from %s", a.Principal, strings.ToLower(a.Permission.String()), a.Operation, strings.ToLower(a.PatternType.String()), strings.ToLower(a.ResourceType.String()), a.ResourceName, a.Host)
}

// Validate reports what makes a an ACL that cannot be created.
func (a ACL) Validate() error {
	switch a.ResourceType {
	case kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeTransactionalId:
	case kmsg.ACLResourceTypeCluster:
		if a.ResourceName != ClusterName {
			return fmt.Errorf("the cluster resource is named %q, not %q", ClusterName, a.ResourceName)
		}
	default:
		return fmt.Errorf("resource type %s is not supported (topic, group, cluster, transactional_id)", a.ResourceType)
	}
	if a.ResourceName == "" {
		return errors.New("empty resource name")
	}
	switch a.PatternType {
	case kmsg.ACLResourcePatternTypeLiteral:
	case kmsg.ACLResourcePatternTypePrefixed:
		if a.ResourceName == WildcardResource {
			return errors.New(`a prefixed pattern cannot be "*": use a literal "*"`)
		}
	default:
		return fmt.Errorf("pattern type %s is not literal or prefixed", a.PatternType)
	}
	if !strings.HasPrefix(a.Principal, "User:") || len(a.Principal) == len("User:") {
		return fmt.Errorf("principal %q is not User:NAME", a.Principal)
	}
	if a.Host == "" {
		return errors.New(`empty host (use "*" for any)`)
	}
	if a.Operation <= kmsg.ACLOperationAny || a.Operation > kmsg.ACLOperationDescribeTokens {
		return fmt.Errorf("operation %s is not a concrete operation", a.Operation)
	}
	if a.Permission != kmsg.ACLPermissionTypeAllow && a.Permission != kmsg.ACLPermissionTypeDeny {
		return fmt.Errorf("permission %s is not allow or deny", a.Permission)
	}
	return nil
}

// Filter selects ACLs, as DescribeAcls and DeleteAcls do: zero values of
// the enums and nil strings match anything; PatternType Match selects the
// ACLs that apply to the resource named ResourceName (literal, "*", and
// prefixes of it).
type Filter struct {
	ResourceType kmsg.ACLResourceType
	ResourceName *string
	PatternType  kmsg.ACLResourcePatternType
	Principal    *string
	Host         *string
	Operation    kmsg.ACLOperation
	Permission   kmsg.ACLPermissionType
}

// Matches reports whether f selects a.
func (f Filter) Matches(a ACL) bool {
	if f.ResourceType > kmsg.ACLResourceTypeAny && f.ResourceType != a.ResourceType {
		return false
	}
	if f.Operation > kmsg.ACLOperationAny && f.Operation != a.Operation {
		return false
	}
	if f.Permission > kmsg.ACLPermissionTypeAny && f.Permission != a.Permission {
		return false
	}
	if f.Principal != nil && *f.Principal != a.Principal {
		return false
	}
	if f.Host != nil && *f.Host != a.Host {
		return false
	}
	switch f.PatternType {
	case kmsg.ACLResourcePatternTypeMatch:
		if f.ResourceName == nil {
			return true
		}
		return patternApplies(a.PatternType, a.ResourceName, *f.ResourceName)
	case kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed:
		if f.PatternType != a.PatternType {
			return false
		}
	}
	return f.ResourceName == nil || *f.ResourceName == a.ResourceName
}

// patternApplies reports whether an ACL's pattern covers resource name.
func patternApplies(pt kmsg.ACLResourcePatternType, pattern, name string) bool {
	switch pt {
	case kmsg.ACLResourcePatternTypeLiteral:
		return pattern == name || pattern == WildcardResource
	case kmsg.ACLResourcePatternTypePrefixed:
		return strings.HasPrefix(name, pattern)
	}
	return false
}

// grantedBy lists the other operations whose allow ACLs also grant op, as
// in Kafka: DESCRIBE comes with READ, WRITE, DELETE and ALTER;
// DESCRIBE_CONFIGS with ALTER_CONFIGS. (A deny applies only to its own
// operation, or to all with ALL.)
func grantedBy(op kmsg.ACLOperation) []kmsg.ACLOperation {
	switch op {
	case kmsg.ACLOperationDescribe:
		return []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDelete, kmsg.ACLOperationAlter}
	case kmsg.ACLOperationDescribeConfigs:
		return []kmsg.ACLOperation{kmsg.ACLOperationAlterConfigs}
	}
	return nil
}
