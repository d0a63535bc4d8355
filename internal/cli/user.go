package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-streaming/eddy/auth"
	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// newUserCommand returns "eddy user": SCRAM users, through the Kafka admin
// APIs (DescribeUserScramCredentials, AlterUserScramCredentials) of the
// cluster at --brokers, or with --data-dir directly in a stopped Eddy
// broker's data directory (how the first, super user is made).
func newUserCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Aliases: []string{"users"},
		Short:   "Create, delete and list SASL/SCRAM users",
		Args:    cobra.NoArgs,
	}
	var dataDir string
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "", "edit the credentials in this (stopped) broker's data directory instead of going through --brokers")
	cmd.AddCommand(newUserCreateCommand(a, &dataDir), newUserDeleteCommand(a, &dataDir), newUserListCommand(a, &dataDir))
	return cmd
}

var userMechanisms = map[string]kadm.ScramMechanism{auth.ScramSHA256: kadm.ScramSha256, auth.ScramSHA512: kadm.ScramSha512}

func parseMechanisms(list []string) ([]string, error) {
	var out []string
	for _, m := range list {
		m = strings.ToUpper(strings.TrimSpace(m))
		if _, ok := userMechanisms[m]; !ok {
			return nil, fmt.Errorf("mechanism %q: want SCRAM-SHA-256 or SCRAM-SHA-512", m)
		}
		out = append(out, m)
	}
	return out, nil
}

func openStore(dataDir string) (*auth.Store, error) {
	return auth.OpenStore(vfs.OS(), filepath.ToSlash(filepath.Join(dataDir, broker.SecurityDir)))
}

func newUserCreateCommand(a *app, dataDir *string) *cobra.Command {
	var (
		password      string
		passwordStdin bool
		mechanisms    []string
		iterations    int
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user, or change its password (SCRAM-SHA-256 and SCRAM-SHA-512 credentials)",
		Long: `Create a user, or set a new password: the password is salted and hashed
(only SCRAM's stored and server keys are kept), one credential per mechanism.
The password comes from --password, from stdin with --password-stdin, or is
asked for on the terminal.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			mechs, err := parseMechanisms(mechanisms)
			if err != nil {
				return err
			}
			if err := auth.CheckIterations(iterations); err != nil {
				return fmt.Errorf("--iterations: %w", err)
			}
			if passwordStdin || password == "" {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return errors.New("no password: give --password or one line on stdin (--password-stdin)")
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if password == "" {
				return errors.New("empty password")
			}
			if *dataDir != "" {
				st, err := openStore(*dataDir)
				if err != nil {
					return err
				}
				for _, m := range mechs {
					c, err := auth.NewScramCredential(m, password, iterations)
					if err != nil {
						return err
					}
					if err := st.Upsert(name, c); err != nil {
						return err
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s: %s credentials stored in %s\n", name, strings.Join(mechs, ", "), *dataDir)
				return nil
			}
			adm, done, err := a.newAdmin()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()
			var ups []kadm.UpsertSCRAM
			for _, m := range mechs {
				ups = append(ups, kadm.UpsertSCRAM{User: name, Mechanism: userMechanisms[m], Iterations: int32(iterations), Password: password})
			}
			if err := alterSCRAMs(ctx, adm, nil, ups); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s: %s credentials set\n", name, strings.Join(mechs, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&password, "password", "", "the password (visible in the process list: prefer --password-stdin)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	f.StringSliceVar(&mechanisms, "mechanism", []string{auth.ScramSHA256, auth.ScramSHA512}, "SCRAM mechanisms to store credentials for")
	f.IntVar(&iterations, "iterations", auth.DefaultIterations, "PBKDF2 iterations (4096-16384)")
	return cmd
}

func newUserDeleteCommand(a *app, dataDir *string) *cobra.Command {
	var mechanisms []string
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user's credentials (all mechanisms unless --mechanism)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			mechs, err := parseMechanisms(mechanisms)
			if err != nil {
				return err
			}
			if *dataDir != "" {
				st, err := openStore(*dataDir)
				if err != nil {
					return err
				}
				if len(mechs) == 0 {
					mechs = []string{""}
				}
				for _, m := range mechs {
					if err := st.Delete(name, m); err != nil {
						return fmt.Errorf("user %s: %w", name, err)
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s deleted\n", name)
				return nil
			}
			adm, done, err := a.newAdmin()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := a.adminContext(cmd.Context())
			defer cancel()
			if len(mechs) == 0 {
				described, err := adm.DescribeUserSCRAMs(ctx, name)
				if err != nil {
					return adminErr("describing user", err)
				}
				for _, ci := range described[name].CredInfos {
					mechs = append(mechs, ci.Mechanism.String())
				}
				if err := described[name].Err; err != nil {
					return adminErr("user "+name, err)
				}
			}
			var dels []kadm.DeleteSCRAM
			for _, m := range mechs {
				dels = append(dels, kadm.DeleteSCRAM{User: name, Mechanism: userMechanisms[m]})
			}
			if err := alterSCRAMs(ctx, adm, dels, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s deleted\n", name)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&mechanisms, "mechanism", nil, "only these SCRAM mechanisms")
	return cmd
}

func newUserListCommand(a *app, dataDir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users and their SCRAM mechanisms (never their credentials)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			type row struct {
				name  string
				mechs []string
			}
			var rows []row
			if *dataDir != "" {
				st, err := openStore(*dataDir)
				if err != nil {
					return err
				}
				for _, u := range st.Users() {
					r := row{name: u.Name}
					for _, m := range u.Mechanisms {
						r.mechs = append(r.mechs, fmt.Sprintf("%s (%d iterations)", m.Mechanism, m.Iterations))
					}
					rows = append(rows, r)
				}
			} else {
				adm, done, err := a.newAdmin()
				if err != nil {
					return err
				}
				defer done()
				ctx, cancel := a.adminContext(cmd.Context())
				defer cancel()
				described, err := adm.DescribeUserSCRAMs(ctx)
				if err != nil {
					return adminErr("listing users", err)
				}
				for _, u := range described.Sorted() {
					if u.Err != nil {
						return adminErr("user "+u.User, u.Err)
					}
					r := row{name: u.User}
					for _, ci := range u.CredInfos {
						r.mechs = append(r.mechs, fmt.Sprintf("%s (%d iterations)", ci.Mechanism, ci.Iterations))
					}
					rows = append(rows, r)
				}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tMECHANISMS")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\n", r.name, strings.Join(r.mechs, ", "))
			}
			return tw.Flush()
		},
	}
}

// alterSCRAMs runs AlterUserScramCredentials and returns its first error.
func alterSCRAMs(ctx context.Context, adm *kadm.Client, dels []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM) error {
	res, err := adm.AlterUserSCRAMs(ctx, dels, ups)
	if err != nil {
		return adminErr("altering SCRAM credentials", err)
	}
	for _, r := range res {
		if r.Err != nil {
			return adminErr("user "+r.User, r.Err)
		}
	}
	return nil
}

// adminErr prefixes a Kafka error with what was being done.
func adminErr(what string, err error) error {
	return fmt.Errorf("%s: %s", what, kafkaError(err, ""))
}
