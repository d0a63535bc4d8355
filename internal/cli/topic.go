package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTopicCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "topic",
		Aliases: []string{"topics", "t"},
		Short:   "Create, list, describe, delete and configure topics",
		Args:    cobra.NoArgs,
	}
	cmd.AddCommand(
		newTopicCreateCommand(a),
		newTopicListCommand(a),
		newTopicDescribeCommand(a),
		newTopicDeleteCommand(a),
		newTopicAlterConfigCommand(a),
	)
	return cmd
}

// statusError reports how many per-topic operations failed after the status
// table has been printed.
func statusError(op string, failed, total int) error {
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("%s failed for %d of %d topic(s)", op, failed, total)
}

func newTopicCreateCommand(a *app) *cobra.Command {
	var (
		partitions int32
		replicas   int16
		configs    []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME...",
		Short: "Create topics",
		Long: `Create one or more topics.

Partitions and replicas default to -1, which asks the broker to use its
defaults (num.partitions, default.replication.factor). Topic configs are
given with -c key=value, repeatable.`,
		Example: `  eddy topic create orders -p 6 -r 3 -c cleanup.policy=compact -c retention.ms=86400000`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, topics []string) error {
			kvs, err := parseKeyValues("-c", configs)
			if err != nil {
				return err
			}
			var cfg map[string]*string
			if len(kvs) > 0 {
				cfg = make(map[string]*string, len(kvs))
				for _, kv := range kvs {
					cfg[kv[0]] = &kv[1]
				}
			}
			adm, done, err := a.newAdmin()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()
			resps, err := adm.CreateTopics(ctx, partitions, replicas, cfg, topics...)
			if err != nil {
				return fmt.Errorf("create topics: %w", err)
			}
			return topicStatuses(cmd.OutOrStdout(), "create", topics, func(t string) (bool, error, string) {
				r, ok := resps[t]
				return ok, r.Err, r.ErrMessage
			})
		},
	}
	f := cmd.Flags()
	f.Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: broker default)")
	f.Int16VarP(&replicas, "replicas", "r", -1, "replication factor (-1: broker default)")
	f.StringArrayVarP(&configs, "topic-config", "c", nil, "topic config key=value (repeatable)")
	return cmd
}

func newTopicListCommand(a *app) *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, done, err := a.newAdmin()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()
			var tds kadm.TopicDetails
			if internal {
				tds, err = adm.ListTopicsWithInternal(ctx)
			} else {
				tds, err = adm.ListTopics(ctx)
			}
			if err != nil {
				return fmt.Errorf("list topics: %w", err)
			}
			tw := newTable(cmd.OutOrStdout())
			row(tw, "NAME", "PARTITIONS", "REPLICAS")
			for _, td := range tds.Sorted() {
				if td.Err != nil {
					row(tw, td.Topic, "-", kafkaError(td.Err, ""))
					continue
				}
				row(tw, td.Topic, len(td.Partitions), td.Partitions.NumReplicas())
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&internal, "internal", "i", false, "include internal topics")
	return cmd
}

func newTopicDescribeCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe NAME...",
		Short: "Describe topics: summary, configs and partitions",
		Long: `Describe topics. For each topic this prints a summary, the topic's configs
(with their source) and one line per partition with its leader, leader epoch,
replicas, log start offset and high watermark.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, topics []string) error {
			adm, done, err := a.newAdmin()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()

			md, err := adm.Metadata(ctx, topics...)
			if err != nil {
				return fmt.Errorf("metadata: %w", err)
			}
			failed := 0
			out := cmd.OutOrStdout()
			for i, t := range topics {
				if i > 0 {
					fmt.Fprintln(out)
				}
				td, ok := md.Topics[t]
				if !ok || td.Err != nil {
					failed++
					msg := "topic missing from metadata response"
					if ok {
						msg = kafkaError(td.Err, "")
					}
					fmt.Fprintf(out, "%s: %s\n", t, msg)
					continue
				}
				// Configs and offsets are separate requests; a failure in
				// one still lets us print what we have.
				rcs, cfgErr := adm.DescribeTopicConfigs(ctx, t)
				starts, startErr := adm.ListStartOffsets(ctx, t)
				ends, endErr := adm.ListEndOffsets(ctx, t)
				if err := printTopicDescription(out, td, rcs, cfgErr, starts, startErr, ends, endErr); err != nil {
					return err
				}
				if cfgErr != nil || startErr != nil || endErr != nil {
					failed++
				}
			}
			return statusError("describe", failed, len(topics))
		},
	}
	return cmd
}

// section prints an rpk-style section header.
func section(w io.Writer, name string) {
	fmt.Fprintf(w, "%s\n%s\n", name, strings.Repeat("=", len(name)))
}

func printTopicDescription(
	w io.Writer,
	td kadm.TopicDetail,
	rcs kadm.ResourceConfigs, cfgErr error,
	starts kadm.ListedOffsets, startErr error,
	ends kadm.ListedOffsets, endErr error,
) error {
	section(w, "SUMMARY")
	tw := newTable(w)
	row(tw, "NAME", td.Topic)
	row(tw, "PARTITIONS", len(td.Partitions))
	row(tw, "REPLICAS", td.Partitions.NumReplicas())
	row(tw, "ID", td.ID)
	if td.IsInternal {
		row(tw, "INTERNAL", true)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	section(w, "CONFIGS")
	switch rc, err := rcs.On(td.Topic, nil); {
	case cfgErr != nil:
		fmt.Fprintf(w, "error: %s\n", kafkaError(cfgErr, ""))
	case err != nil:
		fmt.Fprintf(w, "error: %s\n", kafkaError(err, ""))
	case rc.Err != nil:
		fmt.Fprintf(w, "error: %s\n", kafkaError(rc.Err, rc.ErrMessage))
	default:
		cfgs := slices.Clone(rc.Configs)
		slices.SortFunc(cfgs, func(a, b kadm.Config) int { return strings.Compare(a.Key, b.Key) })
		tw = newTable(w)
		row(tw, "KEY", "VALUE", "SOURCE")
		for _, c := range cfgs {
			v := c.MaybeValue()
			if c.Sensitive {
				v = "(sensitive)"
			}
			row(tw, c.Key, v, configSource(c.Source))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w)
	section(w, "PARTITIONS")
	if startErr != nil {
		fmt.Fprintf(w, "error listing log start offsets: %s\n", kafkaError(startErr, ""))
	}
	if endErr != nil {
		fmt.Fprintf(w, "error listing high watermarks: %s\n", kafkaError(endErr, ""))
	}
	tw = newTable(w)
	row(tw, "PARTITION", "LEADER", "EPOCH", "REPLICAS", "LOG-START-OFFSET", "HIGH-WATERMARK")
	for _, p := range td.Partitions.Sorted() {
		start, end := offsetCell(starts, p.Topic, p.Partition), offsetCell(ends, p.Topic, p.Partition)
		leader := fmt.Sprint(p.Leader)
		if p.Err != nil {
			leader += " (" + kafkaError(p.Err, "") + ")"
		}
		row(tw, p.Partition, leader, p.LeaderEpoch, fmt.Sprint(p.Replicas), start, end)
	}
	return tw.Flush()
}

// offsetCell renders one listed offset, or the error for it.
func offsetCell(os kadm.ListedOffsets, topic string, partition int32) string {
	o, ok := os.Lookup(topic, partition)
	switch {
	case !ok:
		return "-"
	case o.Err != nil:
		return kafkaError(o.Err, "")
	}
	return fmt.Sprint(o.Offset)
}

// configSource renders a config source like Kafka's tools do.
func configSource(s kmsg.ConfigSource) string {
	if str := s.String(); str != "" && str != "UNKNOWN" {
		return str
	}
	return fmt.Sprint(int8(s))
}

func newTopicDeleteCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete topics",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, topics []string) error {
			adm, done, err := a.newAdmin()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()
			resps, err := adm.DeleteTopics(ctx, topics...)
			if err != nil {
				return fmt.Errorf("delete topics: %w", err)
			}
			return topicStatuses(cmd.OutOrStdout(), "delete", topics, func(t string) (bool, error, string) {
				r, ok := resps[t]
				return ok, r.Err, r.ErrMessage
			})
		},
	}
}

func newTopicAlterConfigCommand(a *app) *cobra.Command {
	var sets, deletes []string
	cmd := &cobra.Command{
		Use:   "alter-config NAME...",
		Short: "Incrementally set or delete topic configs",
		Long: `Alter topic configs with IncrementalAlterConfigs: --set key=value sets a
config, --delete key removes a dynamic config so the default applies again.
Both flags are repeatable; unmentioned configs are left untouched.`,
		Example: `  eddy topic alter-config orders --set retention.ms=3600000 --delete cleanup.policy`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, topics []string) error {
			kvs, err := parseKeyValues("--set", sets)
			if err != nil {
				return err
			}
			if len(kvs) == 0 && len(deletes) == 0 {
				return fmt.Errorf("nothing to alter: give --set key=value and/or --delete key")
			}
			alters := make([]kadm.AlterConfig, 0, len(kvs)+len(deletes))
			for _, kv := range kvs {
				alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv[0], Value: &kv[1]})
			}
			for _, k := range deletes {
				alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
			adm, done, err := a.newAdmin()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()
			resps, err := adm.AlterTopicConfigs(ctx, alters, topics...)
			if err != nil {
				return fmt.Errorf("alter configs: %w", err)
			}
			tw := newTable(cmd.OutOrStdout())
			row(tw, "TOPIC", "STATUS")
			failed := 0
			for _, t := range topics {
				r, err := resps.On(t, nil)
				switch {
				case err != nil:
					failed++
					row(tw, t, "no response from broker")
				case r.Err != nil:
					failed++
					row(tw, t, kafkaError(r.Err, r.ErrMessage))
				default:
					row(tw, t, "OK")
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return statusError("alter-config", failed, len(topics))
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "config to set, key=value (repeatable)")
	cmd.Flags().StringArrayVar(&deletes, "delete", nil, "config key to delete (repeatable)")
	return cmd
}

// topicStatuses prints a TOPIC/STATUS table, a row per topic: OK, the
// broker's error, or no response at all (result's ok false); it returns
// statusError for op when any topic failed.
func topicStatuses(w io.Writer, op string, topics []string, result func(topic string) (ok bool, err error, msg string)) error {
	tw := newTable(w)
	row(tw, "TOPIC", "STATUS")
	failed := 0
	for _, t := range topics {
		ok, err, msg := result(t)
		switch {
		case !ok:
			failed++
			row(tw, t, "no response from broker")
		case err != nil:
			failed++
			row(tw, t, kafkaError(err, msg))
		default:
			row(tw, t, "OK")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return statusError(op, failed, len(topics))
}
