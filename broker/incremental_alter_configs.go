package broker

// IncrementalAlterConfigs (key 44), v0-v1.
//
// Applies operations to a resource's overrides, leaving the configs not
// named alone: SET (0) sets a value (a null value removes the override),
// DELETE (1) removes the override so the default applies again, APPEND (2)
// and SUBTRACT (3) add or remove elements of a list config such as
// cleanup.policy, starting from the config's default when it is not set,
// as Kafka does. APPEND or SUBTRACT on a config that is not a list is
// INVALID_CONFIG, as are unknown names and values that do not validate once
// every operation is applied; an unknown operation, a config named twice
// for one resource, or a resource named twice is INVALID_REQUEST.
// Resources are topics and the broker (name "" or this node's id), whose
// dynamic configs are limited as for AlterConfigs (see alter_configs.go).
// ValidateOnly checks and changes nothing. Changes are persisted before the
// answer, reach the partition logs at once, and survive restarts.

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(kmsg.IncrementalAlterConfigs.Int16(), 0, 1, handleIncrementalAlterConfigs)
}

func handleIncrementalAlterConfigs(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.IncrementalAlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	dups := duplicateResources(len(r.Resources), func(i int) configResource {
		return configResource{r.Resources[i].ResourceType, r.Resources[i].ResourceName}
	})
	answered := map[configResource]bool{}
	for _, rr := range r.Resources {
		key := configResource{rr.ResourceType, rr.ResourceName}
		if answered[key] {
			continue
		}
		answered[key] = true
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		terr := func() *topicError {
			if dups[key] {
				return errCode(kerr.InvalidRequest, "resource appears more than once in the request")
			}
			t, terr := b.configTarget(rr.ResourceType, rr.ResourceName)
			if terr != nil {
				return terr
			}
			names := map[string]bool{}
			for _, op := range rr.Configs {
				if names[op.Name] {
					return errCode(kerr.InvalidRequest, "config %s appears more than once for the resource", op.Name)
				}
				names[op.Name] = true
			}
			apply := func(cur map[string]string) (map[string]string, *topicError) {
				return applyConfigOps(cur, rr.Configs, t == nil)
			}
			if t != nil {
				return b.alterTopicConfigs(t, apply, r.ValidateOnly)
			}
			return b.alterDynamicConfigs(apply, r.ValidateOnly)
		}()
		if terr != nil {
			sr.ErrorCode = terr.code.Code
			msg := terr.msg
			sr.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

// applyConfigOps applies IncrementalAlterConfigs operations to a copy of a
// resource's overrides (broker: the dynamic broker configs). The result is
// validated by the caller.
func applyConfigOps(cur map[string]string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig, broker bool) (map[string]string, *topicError) {
	for _, op := range ops {
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if op.Value == nil {
				delete(cur, op.Name)
			} else {
				cur[op.Name] = *op.Value
			}
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(cur, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			d := configDefFor(op.Name, broker)
			if d == nil {
				return nil, errCode(kerr.InvalidConfig, "unknown config %q", op.Name)
			}
			if d.typ != typeList {
				return nil, errCode(kerr.InvalidConfig, "can't %s to config %s because its type is not LIST", op.Op, op.Name)
			}
			if op.Value == nil {
				return nil, errCode(kerr.InvalidConfig, "%s to config %s needs a value", op.Op, op.Name)
			}
			v, ok := cur[op.Name]
			if !ok {
				v = d.def
			}
			parts := listParts(v)
			for _, e := range listParts(*op.Value) {
				i := slices.Index(parts, e)
				switch {
				case op.Op == kmsg.IncrementalAlterConfigOpAppend && i < 0:
					parts = append(parts, e)
				case op.Op == kmsg.IncrementalAlterConfigOpSubtract && i >= 0:
					parts = slices.Delete(parts, i, i+1)
				}
			}
			cur[op.Name] = strings.Join(parts, ",")
		default:
			return nil, errCode(kerr.InvalidRequest, "unknown operation %d on config %s", int8(op.Op), op.Name)
		}
	}
	return cur, nil
}
