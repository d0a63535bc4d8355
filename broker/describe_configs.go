package broker

// DescribeConfigs (key 32), v0-v4.
//
// Topic resources list every topic config Eddy knows with its effective
// value and source: TOPIC_CONFIG when set on the topic, else the broker
// synonym's (STATIC_BROKER_CONFIG from the config file or flags,
// DYNAMIC_BROKER_CONFIG from AlterConfigs), else DEFAULT_CONFIG. With
// IncludeSynonyms (v1+) the chain of synonyms is listed as Kafka does, and
// with IncludeDocumentation (v3+) each config's documentation. Broker
// resources (name "" or this node's id) list the broker configs.

import (
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeConfigs.Int16(), 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := b.topic(rr.ResourceName)
			if t == nil {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			sr.Configs = b.describeTopicConfigs(b.topicConfigs(t), rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBroker:
			if !b.isThisBroker(rr.ResourceName) {
				sr.ErrorCode = kerr.InvalidRequest.Code
				msg := "unknown broker " + strconv.Quote(rr.ResourceName)
				sr.ErrorMessage = &msg
				break
			}
			sr.Configs = b.describeBrokerConfigs(rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation)
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			msg := "unsupported resource type " + rr.ResourceType.String()
			sr.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

// isThisBroker reports whether a broker resource name addresses this node:
// its id, or "" for the cluster-wide default.
func (b *Broker) isThisBroker(name string) bool {
	return name == "" || name == strconv.Itoa(int(b.cfg.nodeID))
}

func wanted(names []string) func(string) bool {
	if names == nil {
		return func(string) bool { return true }
	}
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return func(n string) bool { return set[n] }
}

// describeTopicConfigs lists a topic's configs given its overrides.
func (b *Broker) describeTopicConfigs(overrides map[string]string, names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	want := wanted(names)
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for i := range topicConfigDefs {
		d := &topicConfigDefs[i]
		if !want(d.name) {
			continue
		}
		v, src := b.settings.topicValue(overrides, d.name)
		e := configEntry(d, d.name, v, src, docs)
		if synonyms {
			if ov, ok := overrides[d.name]; ok {
				e.ConfigSynonyms = append(e.ConfigSynonyms, synonym(d.name, ov, sourceTopic))
			}
			e.ConfigSynonyms = append(e.ConfigSynonyms, b.brokerSynonyms(d.broker, d)...)
		}
		out = append(out, e)
	}
	return out
}

// describeBrokerConfigs lists the broker's configs.
func (b *Broker) describeBrokerConfigs(names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	want := wanted(names)
	keys := make([]string, 0, len(brokerDefsByName))
	for k := range brokerDefsByName {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, k := range keys {
		if !want(k) {
			continue
		}
		d := brokerDefsByName[k]
		v, src := b.settings.get(k)
		e := configEntry(d, k, v, src, docs)
		// Only the broker-level synonyms of topic configs change at run
		// time (Kafka's dynamic per-broker configs); the rest are read-only.
		e.ReadOnly = d.broker != k
		if synonyms {
			e.ConfigSynonyms = b.brokerSynonyms(k, d)
		}
		out = append(out, e)
	}
	return out
}

// brokerSynonyms lists the values a broker config has at each level that
// sets it, most specific first.
func (b *Broker) brokerSynonyms(name string, d *configDef) []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	var out []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
	if v, ok := b.settings.dynamicCopy()[name]; ok {
		out = append(out, synonym(name, v, sourceDynamicBroker))
	}
	if v, ok := b.settings.static[name]; ok {
		out = append(out, synonym(name, v, sourceStaticBroker))
	}
	return append(out, synonym(name, d.def, sourceDefault))
}

func synonym(name, value string, src int8) kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
	v := value
	s.Name, s.Value, s.Source = name, &v, kmsg.ConfigSource(src)
	return s
}

func configEntry(d *configDef, name, value string, src int8, docs bool) kmsg.DescribeConfigsResponseResourceConfig {
	e := kmsg.NewDescribeConfigsResponseResourceConfig()
	v := value
	e.Name, e.Value = name, &v
	e.Source = kmsg.ConfigSource(src)
	e.IsDefault = src == sourceDefault
	e.ConfigType = kmsg.ConfigType(d.typ)
	if docs {
		doc := d.doc
		e.Documentation = &doc
	}
	return e
}
