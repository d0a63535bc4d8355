package broker

// AlterConfigs (key 33), v0-v2.
//
// The non-incremental form: the configs given become the resource's whole
// set of overrides, and every config not listed goes back to its default
// (a null value also means "not set"). Topic resources change the topic's
// overrides; broker resources (name "" or this node's id) the dynamic
// broker configs, of which only the broker defaults of topic configs
// (log.retention.ms, log.segment.bytes, ...) can change while the broker
// runs, as in Kafka. Unknown names and invalid values are INVALID_CONFIG,
// an unknown topic UNKNOWN_TOPIC_OR_PARTITION, and a resource named twice
// in one request INVALID_REQUEST. ValidateOnly checks and changes nothing.
// Changes are persisted before the answer, reach the partition logs at once
// (segment size, retention, ...), and survive restarts.

import (
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.AlterConfigs.Int16(), 0, 2, handleAlterConfigs) }

func handleAlterConfigs(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.AlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
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
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		terr := func() *topicError {
			if dups[key] {
				return errCode(kerr.InvalidRequest, "resource appears more than once in the request")
			}
			t, terr := b.configTarget(rr.ResourceType, rr.ResourceName)
			if terr != nil {
				return terr
			}
			next := map[string]string{}
			var nulls []string
			for _, kv := range rr.Configs {
				if kv.Value == nil {
					delete(next, kv.Name)
					nulls = append(nulls, kv.Name)
					continue
				}
				next[kv.Name] = *kv.Value
			}
			replace := func(map[string]string) (map[string]string, *topicError) { return next, nil }
			if t != nil {
				return b.alterTopicConfigs(t, replace, r.ValidateOnly)
			}
			if len(nulls) > 0 {
				return errCode(kerr.InvalidRequest, "null value not supported for broker configs: %s", strings.Join(nulls, ", "))
			}
			return b.alterDynamicConfigs(replace, r.ValidateOnly)
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

// configResource identifies a resource of AlterConfigs and
// IncrementalAlterConfigs.
type configResource struct {
	typ  kmsg.ConfigResourceType
	name string
}

// duplicateResources returns the resources that appear more than once
// among n.
func duplicateResources(n int, at func(int) configResource) map[configResource]bool {
	count := map[configResource]int{}
	for i := 0; i < n; i++ {
		count[at(i)]++
	}
	dups := map[configResource]bool{}
	for k, n := range count {
		if n > 1 {
			dups[k] = true
		}
	}
	return dups
}

// configTarget resolves the resource of a config alteration: a topic, or
// the broker (nil topic, no error). Errors follow Kafka: the topic "" and
// other brokers are INVALID_REQUEST, a malformed topic name
// INVALID_TOPIC_EXCEPTION, a missing topic UNKNOWN_TOPIC_OR_PARTITION.
func (b *Broker) configTarget(typ kmsg.ConfigResourceType, name string) (*topic, *topicError) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if name == "" {
			return nil, errCode(kerr.InvalidRequest, "default topic resources are not allowed")
		}
		if err := validTopicName(name); err != nil {
			return nil, errCode(kerr.InvalidTopicException, "%v", err)
		}
		t := b.topic(name)
		if t == nil {
			return nil, errCode(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
		}
		return t, nil
	case kmsg.ConfigResourceTypeBroker:
		if name == "" {
			return nil, nil
		}
		id, err := strconv.ParseInt(name, 10, 32)
		if err != nil {
			return nil, errCode(kerr.InvalidRequest, "node id must be an integer, but it is %q", name)
		}
		if int32(id) != b.cfg.nodeID {
			return nil, errCode(kerr.InvalidRequest, "unexpected broker id, expected %d, but received %d", b.cfg.nodeID, id)
		}
		return nil, nil
	default:
		return nil, errCode(kerr.InvalidRequest, "unsupported resource type %s (%d)", typ, int8(typ))
	}
}

// configDefFor returns the definition of a config of a topic (broker
// false) or of the broker, or nil.
func configDefFor(name string, broker bool) *configDef {
	if broker {
		return brokerDefsByName[name]
	}
	return topicDefsByName[name]
}

// listParts splits a list config's value into its elements, as Kafka does
// for APPEND and SUBTRACT.
func listParts(v string) []string {
	var parts []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return parts
}
