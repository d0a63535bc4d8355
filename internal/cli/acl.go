package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/auth"
)

// newACLCommand returns "eddy acl": Kafka ACLs through CreateAcls,
// DescribeAcls and DeleteAcls, against Eddy or any Kafka cluster.
func newACLCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "acl",
		Aliases: []string{"acls"},
		Short:   "Add, remove and list ACLs (who may do what on which topic, group, transactional id or the cluster)",
		Long: `ACLs follow Kafka's model: a principal (User:NAME, or User:* for everyone)
is allowed or denied an operation (read, write, create, delete, alter,
describe, describe_configs, alter_configs, idempotent_write, cluster_action,
all) on a resource (--topic, --group, --transactional-id, --cluster) named
exactly, by prefix (--prefixed) or "*" for all, from a host ("*" for any).
With the authorizer on, what no ACL allows is denied (super users excepted),
and a deny wins over any allow.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newACLAddCommand(a), newACLRemoveCommand(a), newACLListCommand(a))
	return cmd
}

// aclFlags name ACLs (add) or select them (remove, list).
type aclFlags struct {
	allow, deny   []string
	operations    []string
	topic, group  string
	txnID         string
	cluster       bool
	prefixed      bool
	host          string
	anyPermission bool
}

func (f *aclFlags) add(fs *pflag.FlagSet, filter bool) {
	fs.StringSliceVar(&f.allow, "allow", nil, "principals allowed (User:NAME)")
	fs.StringSliceVar(&f.deny, "deny", nil, "principals denied (User:NAME)")
	fs.StringSliceVar(&f.operations, "operation", nil, "operations (read, write, create, delete, alter, describe, describe_configs, alter_configs, idempotent_write, cluster_action, all)")
	fs.StringVar(&f.topic, "topic", "", "topic name (or prefix with --prefixed, or *)")
	fs.StringVar(&f.group, "group", "", "consumer group name (or prefix, or *)")
	fs.StringVar(&f.txnID, "transactional-id", "", "transactional id (or prefix, or *)")
	fs.BoolVar(&f.cluster, "cluster", false, "the cluster resource")
	fs.BoolVar(&f.prefixed, "prefixed", false, "the name is a prefix")
	def := "*"
	if filter {
		def = ""
	}
	fs.StringVar(&f.host, "host", def, "host the principal connects from (* for any)")
}

// resource returns the resource type and name the flags name.
func (f *aclFlags) resource(filter bool) (kmsg.ACLResourceType, *string, error) {
	var rt kmsg.ACLResourceType
	var name string
	n := 0
	if f.topic != "" {
		rt, name, n = kmsg.ACLResourceTypeTopic, f.topic, n+1
	}
	if f.group != "" {
		rt, name, n = kmsg.ACLResourceTypeGroup, f.group, n+1
	}
	if f.txnID != "" {
		rt, name, n = kmsg.ACLResourceTypeTransactionalId, f.txnID, n+1
	}
	if f.cluster {
		rt, name, n = kmsg.ACLResourceTypeCluster, auth.ClusterName, n+1
	}
	switch {
	case n > 1:
		return 0, nil, errors.New("name one resource: --topic, --group, --transactional-id or --cluster")
	case n == 0 && filter:
		return kmsg.ACLResourceTypeAny, nil, nil
	case n == 0:
		return 0, nil, errors.New("name a resource: --topic, --group, --transactional-id or --cluster")
	}
	return rt, &name, nil
}

func (f *aclFlags) patternType(filter bool) kmsg.ACLResourcePatternType {
	switch {
	case f.prefixed:
		return kmsg.ACLResourcePatternTypePrefixed
	case filter && f.topic == "" && f.group == "" && f.txnID == "" && !f.cluster:
		return kmsg.ACLResourcePatternTypeAny
	}
	return kmsg.ACLResourcePatternTypeLiteral
}

func (f *aclFlags) ops(filter bool) ([]kmsg.ACLOperation, error) {
	if len(f.operations) == 0 {
		if filter {
			return []kmsg.ACLOperation{kmsg.ACLOperationAny}, nil
		}
		return nil, errors.New("name the operations: --operation read,write,...")
	}
	var out []kmsg.ACLOperation
	for _, o := range f.operations {
		op, err := kmsg.ParseACLOperation(strings.ToLower(strings.TrimSpace(o)))
		if err != nil || op <= kmsg.ACLOperationAny {
			return nil, fmt.Errorf("operation %q is not an ACL operation", o)
		}
		out = append(out, op)
	}
	return out, nil
}

type principalPerm struct {
	principal *string
	perm      kmsg.ACLPermissionType
}

func (f *aclFlags) principals(filter bool) ([]principalPerm, error) {
	var out []principalPerm
	for _, p := range f.allow {
		out = append(out, principalPerm{&p, kmsg.ACLPermissionTypeAllow})
	}
	for _, p := range f.deny {
		out = append(out, principalPerm{&p, kmsg.ACLPermissionTypeDeny})
	}
	if len(out) == 0 {
		if !filter {
			return nil, errors.New("name principals: --allow User:NAME or --deny User:NAME")
		}
		out = append(out, principalPerm{nil, kmsg.ACLPermissionTypeAny})
	}
	return out, nil
}

func newACLAddCommand(a *app) *cobra.Command {
	f := &aclFlags{}
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add ACLs: every --allow/--deny principal × every --operation on the resource",
		Example: `  eddy acl add --allow User:alice --operation read,describe --topic orders
  eddy acl add --allow User:alice --operation read --group orders- --prefixed
  eddy acl add --deny User:mallory --operation all --topic '*'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, name, err := f.resource(false)
			if err != nil {
				return err
			}
			ops, err := f.ops(false)
			if err != nil {
				return err
			}
			pps, err := f.principals(false)
			if err != nil {
				return err
			}
			req := kmsg.NewPtrCreateACLsRequest()
			for _, pp := range pps {
				for _, op := range ops {
					c := kmsg.NewCreateACLsRequestCreation()
					c.ResourceType, c.ResourceName, c.ResourcePatternType = rt, *name, f.patternType(false)
					c.Principal, c.Host, c.Operation, c.PermissionType = *pp.principal, f.host, op, pp.perm
					req.Creations = append(req.Creations, c)
				}
			}
			cl, err := a.newClient()
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return adminErr("creating ACLs", err)
			}
			for i, r := range resp.Results {
				if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
					msg := ""
					if r.ErrorMessage != nil {
						msg = *r.ErrorMessage
					}
					return fmt.Errorf("ACL %d: %s", i+1, kafkaError(err, msg))
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d ACL(s) added\n", len(req.Creations))
			return nil
		},
	}
	f.add(cmd.Flags(), false)
	return cmd
}

// filters turns the flags into DescribeAcls/DeleteAcls filters.
func (f *aclFlags) filters() ([]kmsg.DeleteACLsRequestFilter, error) {
	rt, name, err := f.resource(true)
	if err != nil {
		return nil, err
	}
	ops, err := f.ops(true)
	if err != nil {
		return nil, err
	}
	pps, err := f.principals(true)
	if err != nil {
		return nil, err
	}
	var host *string
	if f.host != "" {
		host = &f.host
	}
	var out []kmsg.DeleteACLsRequestFilter
	for _, pp := range pps {
		for _, op := range ops {
			flt := kmsg.NewDeleteACLsRequestFilter()
			flt.ResourceType, flt.ResourceName, flt.ResourcePatternType = rt, name, f.patternType(true)
			flt.Principal, flt.Host, flt.Operation, flt.PermissionType = pp.principal, host, op, pp.perm
			out = append(out, flt)
		}
	}
	return out, nil
}

func newACLRemoveCommand(a *app) *cobra.Command {
	f := &aclFlags{}
	cmd := &cobra.Command{
		Use:     "remove",
		Aliases: []string{"delete", "rm"},
		Short:   "Remove the ACLs the flags select (unset flags match anything; at least one is required)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("give at least one selector (--topic, --allow, --operation, ...); removing every ACL takes an explicit --topic '*' etc.")
			}
			filters, err := f.filters()
			if err != nil {
				return err
			}
			req := kmsg.NewPtrDeleteACLsRequest()
			req.Filters = filters
			cl, err := a.newClient()
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return adminErr("removing ACLs", err)
			}
			n := 0
			tw := newTable(cmd.OutOrStdout())
			for _, r := range resp.Results {
				if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
					return adminErr("removing ACLs", err)
				}
				for _, m := range r.MatchingACLs {
					n++
					printACL(tw, m.Principal, m.Host, m.PermissionType, m.Operation, m.ResourceType, m.ResourcePatternType, m.ResourceName)
				}
			}
			tw.Flush()
			fmt.Fprintf(cmd.OutOrStdout(), "%d ACL(s) removed\n", n)
			return nil
		},
	}
	f.add(cmd.Flags(), true)
	return cmd
}

func newACLListCommand(a *app) *cobra.Command {
	f := &aclFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List ACLs (all, or those the flags select)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filters, err := f.filters()
			if err != nil {
				return err
			}
			cl, err := a.newClient()
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "PRINCIPAL\tHOST\tPERMISSION\tOPERATION\tRESOURCE\tPATTERN\tNAME")
			for _, flt := range filters {
				req := kmsg.NewPtrDescribeACLsRequest()
				req.ResourceType, req.ResourceName, req.ResourcePatternType = flt.ResourceType, flt.ResourceName, flt.ResourcePatternType
				req.Principal, req.Host, req.Operation, req.PermissionType = flt.Principal, flt.Host, flt.Operation, flt.PermissionType
				resp, err := req.RequestWith(ctx, cl)
				if err != nil {
					return adminErr("listing ACLs", err)
				}
				if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
					return adminErr("listing ACLs", err)
				}
				for _, res := range resp.Resources {
					for _, acl := range res.ACLs {
						printACL(tw, acl.Principal, acl.Host, acl.PermissionType, acl.Operation, res.ResourceType, res.ResourcePatternType, res.ResourceName)
					}
				}
			}
			return tw.Flush()
		},
	}
	f.add(cmd.Flags(), true)
	return cmd
}

func printACL(w interface{ Write([]byte) (int, error) }, principal, host string, perm kmsg.ACLPermissionType, op kmsg.ACLOperation, rt kmsg.ACLResourceType, pt kmsg.ACLResourcePatternType, name string) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", principal, host, strings.ToLower(perm.String()), strings.ToLower(op.String()),
		strings.ToLower(rt.String()), strings.ToLower(pt.String()), name)
}
