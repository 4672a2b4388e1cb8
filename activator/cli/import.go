package cli

import (
	"fmt"
	"strings"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/cliutil"
	ucli "github.com/urfave/cli/v2"
)

func (t *tool) importCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "import",
		Usage:     "import the vendor's response (licence) or a revocation list",
		ArgsUsage: "FILE|-",
		Description: `Verifies the file (armored, binary, or the AL1: text a QR scanner yields) against
the vendor key, checks that it answers a request of this host, this machine, this
product and version, and is valid now; then records it. A refusal changes nothing
(every file of the store stays as it was) and says why in one line.

A host holds one licence per product. A new licence replaces the one in force
when it grants at least as much (every feature, as many clients, a validity that
ends no earlier); one that grants less is refused with what would be lost, unless
--replace. The replaced licence still holds an activation at the vendor: free it
with ` + t.name() + ` receipt LICENSE_ID and the vendor's issuer deactivate.

Examples: ` + t.name() + ` import response.lic
          ` + t.name() + ` import --replace smaller.lic`,
		Flags: []ucli.Flag{&ucli.BoolFlag{Name: "replace", Usage: "accept a licence that grants less than the one in force"}},
		Action: func(c *ucli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("import takes one file (or - for stdin); see %s import --help", t.name())
			}
			data, err := cliutil.ReadInput(c, format.MaxEncodedSize, c.Args().First())
			if err != nil {
				return err
			}
			cfg, err := t.config(c, "import")
			if err != nil {
				return err
			}
			// Decided on a read-only open: the store is opened for writing
			// only to apply an import, never for a refusal.
			s, err := activator.OpenStoreReadOnly(cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.Import(data, activator.ImportOptions{Replace: c.Bool("replace")})
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			out := c.App.Writer
			switch {
			case res.Kind == format.KindRevocations && res.Unchanged:
				fmt.Fprintf(out, "revocation list %d is already in effect\n", res.Serial)
			case res.Kind == format.KindRevocations:
				fmt.Fprintf(out, "revocation list %d applied\n", res.Serial)
			case res.Unchanged:
				fmt.Fprintf(out, "licence %s is already active; nothing changed\n", res.LicenseID)
			default:
				fmt.Fprintf(out, "licence %s imported\n", res.LicenseID)
			}
			if res.Replaced != "" {
				if len(res.Lost) > 0 {
					fmt.Fprintf(out, "it replaces licence %s, losing %s\n", res.Replaced, strings.Join(res.Lost, ", "))
				} else {
					fmt.Fprintf(out, "it replaces licence %s\n", res.Replaced)
				}
				if res.ReplacedOtherKey {
					fmt.Fprintf(out, "licence %s came from another product key, whose activation the vendor still counts; to free it: "+t.name()+" receipt %s -o receipt.deact\n", res.Replaced, res.Replaced)
				}
			}
			t.printStatus(out, cfg, res.Status)
			return nil
		},
	}
}
