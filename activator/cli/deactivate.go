package cli

import (
	"fmt"
	"strings"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/cliutil"
	ucli "github.com/urfave/cli/v2"
)

func (t *tool) deactivateCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "deactivate",
		Usage: "remove the licence from this host and write the receipt for the vendor",
		Description: `Removes the active licence (it can never be imported here again) and writes a
receipt signed by the host key; the vendor imports it to free the activation for
another host.

Example: ` + t.name() + ` deactivate -o receipt.deact`,
		Flags: []ucli.Flag{&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the receipt to `FILE` (- for stdout); default receipt-<LICENSE>.deact"}},
		Action: func(c *ucli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			cfg, err := t.config(c, "deactivate")
			if err != nil {
				return err
			}
			// The receipt's file is created before the licence is removed; the
			// store keeps the receipt too (activator receipt writes it again).
			out, err := cliutil.CreateOutput(c, c.String("output"), ".receipt-*.tmp")
			if err != nil {
				return err
			}
			s, err := activator.OpenStore(cfg, false)
			if err != nil {
				out.Abort()
				return err
			}
			defer s.Close()
			receipt, id, err := s.Deactivate()
			if err != nil {
				out.Abort()
				return fmt.Errorf("deactivate: %w", err)
			}
			if err := out.Finish(receipt, "receipt-"+string(id)+".deact"); err != nil {
				return fmt.Errorf("licence %s is deactivated but the receipt could not be written (%v); run "+t.name()+" receipt %s -o FILE", id, err, id)
			}
			if !out.Stdout {
				fmt.Fprintf(c.App.Writer, "licence %s deactivated; carry %s to your vendor to free the activation\n", id, out.Name())
			}
			return nil
		},
	}
}

func (t *tool) receiptCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "receipt",
		Usage:     "write the deactivation receipt of a deactivated or replaced licence",
		ArgsUsage: "LICENSE_ID",
		Description: `Writes again the receipt that deactivate wrote (the store keeps every receipt it
signed), or, for a licence that another licence replaced on this host, signs its
receipt now, so that the vendor frees the activation it still holds. Like a
deactivation, a receipt ends every request made before it.

Example: ` + t.name() + ` receipt 7MWCP5AXEZ2HEBFNQXQQDKH3Z4 -o receipt.deact`,
		Flags: []ucli.Flag{&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the receipt to `FILE` (- for stdout)", Value: "-"}},
		Action: func(c *ucli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("receipt takes one licence id; see %s receipt --help", t.name())
			}
			cfg, err := t.config(c, "receipt")
			if err != nil {
				return err
			}
			s, err := activator.OpenStore(cfg, false)
			if err != nil {
				return err
			}
			defer s.Close()
			b, err := s.Receipt(format.ID(strings.ToUpper(c.Args().First())))
			if err != nil {
				return err
			}
			out, err := cliutil.CreateOutput(c, c.String("output"), "")
			if err != nil {
				return err
			}
			return out.Finish(b, "")
		},
	}
}
