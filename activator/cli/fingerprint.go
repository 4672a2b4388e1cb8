package cli

import (
	"errors"
	"fmt"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/cliutil"
	ucli "github.com/urfave/cli/v2"
)

func (t *tool) fingerprintCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "fingerprint",
		Usage: "show the machine identifiers that bind a licence to this host",
		Description: `Lists each identifier airlock reads (machine-id, DMI product UUID, physical NIC
addresses, root filesystem), as the hashed value that leaves the host (never the
raw value), and says which are missing or unreadable and why.

Example: activator --product astera fingerprint --json`,
		Flags: []ucli.Flag{&ucli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *ucli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			product, err := t.productID(c)
			if err != nil {
				return err
			}
			h := activator.CollectFingerprint(product)
			out := c.App.Writer
			if c.Bool("json") {
				return cliutil.WriteJSON(out, h)
			}
			found := 0
			for _, cs := range h.Components {
				switch cs.State {
				case activator.Found:
					found++
					fmt.Fprintf(out, "%-18s %s\n", cs.Name, cs.Hash)
				default:
					fmt.Fprintf(out, "%-18s %s: %s\n", cs.Name, cs.State, cs.Reason)
				}
			}
			fmt.Fprintf(out, "%d identifiers found; a licence issued now keeps working while %d of them still match\n", found, format.DefaultThreshold(found))
			if found == 0 {
				return errors.New("no machine identifier could be read; a licence cannot be bound to this host")
			}
			return nil
		},
	}
}
