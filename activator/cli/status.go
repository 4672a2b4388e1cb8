package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/cliutil"
	ucli "github.com/urfave/cli/v2"
)

func (t *tool) statusCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "status",
		Usage: "show the licence state; exit 0 only while a licence is active",
		Description: `Re-verifies the stored licence (signature, binding to this host, validity) and
prints its state, features and client limit, and any problem with what to do.

Exit codes: 0 active; 3 not active (inactive, expired, suspended, revoked); 1 error.
Example: ` + t.name() + ` status --json`,
		Flags: []ucli.Flag{&ucli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *ucli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			cfg, snap, err := t.status(c)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := cliutil.WriteJSON(c.App.Writer, t.statusJSON(cfg, snap)); err != nil {
					return err
				}
			} else {
				t.printStatus(c.App.Writer, cfg, snap)
			}
			if !snap.Active() {
				return &cliutil.NotActiveError{Msg: "licence " + string(snap.State)}
			}
			return nil
		},
	}
}

func (t *tool) checkCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "check",
		Usage:     "exit 0 when FEATURE is licensed, 3 when it is not",
		ArgsUsage: "FEATURE",
		Description: `For scripts: ` + t.name() + ` check workflow && start-workflow-engine
Exit codes: 0 enabled; 3 not enabled; 1 error; 2 bad usage.`,
		Action: func(c *ucli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("check takes one feature name; see %s check --help", t.name())
			}
			_, snap, err := t.status(c)
			if err != nil {
				return err
			}
			if f := c.Args().First(); !snap.Enabled(f) {
				return &cliutil.NotActiveError{Msg: fmt.Sprintf("%s is not enabled (licence %s)", f, snap.State)}
			}
			return nil
		},
	}
}

func (t *tool) status(c *ucli.Context) (activator.Config, *activator.Snapshot, error) {
	cfg, err := t.config(c, c.Command.Name)
	if err != nil {
		return cfg, nil, err
	}
	// A read-only open is several times cheaper, writes nothing while it
	// reads (so it works on a full disk), and is shared with other readers.
	snap, err := activator.ReadStatus(cfg)
	if errors.Is(err, activator.ErrNoStore) {
		return cfg, &activator.Snapshot{State: activator.StateInactive, Features: []string{}, Licenses: []activator.LicenseInfo{},
			Problems: []string{"no licence store at " + cfg.Dir + "; run " + t.name() + " request"}}, nil
	}
	if err != nil {
		return cfg, nil, err
	}
	return cfg, snap, nil
}

func (t *tool) printStatus(w io.Writer, cfg activator.Config, s *activator.Snapshot) {
	fmt.Fprintf(w, "state:    %s\n", s.State)
	fmt.Fprintf(w, "product:  %s %s\n", cfg.Product, cfg.Version)
	for _, l := range s.Licenses {
		fmt.Fprintf(w, "licence:  %s, for %s (%s), issued %s\n", l.LicenseID, l.Licensee.Name, l.Licensee.Organization, l.Issued.Format("2006-01-02"))
		valid := "perpetual"
		if l.NotAfter != nil {
			valid = "until " + l.NotAfter.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "validity: %s\n", valid)
	}
	if s.Active() {
		fmt.Fprintf(w, "features: %s\n", strings.Join(s.Features, ", "))
		fmt.Fprintf(w, "clients:  %d\n", s.Clients)
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "problem:  %s\n", p)
	}
	fmt.Fprintf(w, "trust:    %s\n", t.trustLine(cfg))
}

// statusJSON is status --json: the snapshot, and what this build trusts.
func (t *tool) statusJSON(cfg activator.Config, s *activator.Snapshot) any {
	build := "product"
	if t.product == nil {
		build = "development"
	}
	var keys []format.KeyFingerprint
	for _, k := range cfg.VendorKeys.Keys() {
		keys = append(keys, k.Fingerprint())
	}
	return struct {
		*activator.Snapshot
		Build      string                  `json:"build"`
		VendorKeys []format.KeyFingerprint `json:"vendor_keys"`
	}{s, build, keys}
}
