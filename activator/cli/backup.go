package cli

import (
	"bytes"
	"fmt"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/internal/cliutil"
	ucli "github.com/urfave/cli/v2"
)

func (t *tool) backupCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "backup",
		Usage: "write a copy of the licence store (host key, licences, receipts) to a file",
		Description: `Reads the store as status does (nothing in it changes) and writes every record
to one file, with a digest that restore checks. The file holds the host's secret
key: keep it as safely as the store. A restored store works on this machine only;
its licences stay bound to this machine's identifiers.

Example: ` + t.name() + ` backup -o /secure/activator-store.bak`,
		Flags: []ucli.Flag{&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the backup to `FILE` (- for stdout); default activator-backup-<DATE>.bak"}},
		Action: func(c *ucli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			cfg, err := t.config(c, "backup")
			if err != nil {
				return err
			}
			out, err := cliutil.CreateOutput(c, c.String("output"), ".backup-*.tmp")
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if err := activator.Backup(cfg, &b); err != nil {
				out.Abort()
				return fmt.Errorf("backup: %w", err)
			}
			if err := out.Finish(b.Bytes(), "activator-backup-"+time.Now().UTC().Format("20060102-150405")+".bak"); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			if !out.Stdout {
				fmt.Fprintf(c.App.Writer, "store %s backed up to %s (%d bytes); it holds the host key: keep it safe\n", cfg.Dir, out.Name(), b.Len())
			}
			return nil
		},
	}
}

func (t *tool) restoreCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "restore",
		Usage:     "make the licence store again from a backup file",
		ArgsUsage: "FILE",
		Description: `Checks the backup's digest, then builds the store in --dir. It never writes over
a store: move a damaged one aside first (keep it for diagnosis). The licences
come back active on the machine they were issued for, and on no other.

Example:
   mv /var/lib/airlock /var/lib/airlock.damaged
   ` + t.name() + ` restore /secure/activator-store.bak
   ` + t.name() + ` status`,
		Action: func(c *ucli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("restore takes one backup file; see %s restore --help", t.name())
			}
			cfg, err := t.config(c, "restore")
			if err != nil {
				return err
			}
			b, err := cliutil.ReadInput(c, activator.MaxBackupSize+256, c.Args().First())
			if err != nil {
				return fmt.Errorf("restore: %v", err)
			}
			if err := activator.Restore(cfg, bytes.NewReader(b)); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "store %s restored from %s; run %s status to see the licence\n", cfg.Dir, c.Args().First(), t.name())
			return nil
		},
	}
}
