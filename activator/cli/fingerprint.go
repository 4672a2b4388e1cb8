package cli

import (
	"errors"
	"fmt"
	"io"

	ucli "github.com/urfave/cli/v2"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/cliutil"
)

func (t *tool) fingerprintCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "fingerprint",
		Usage: "show the machine identifiers that bind a licence to this host",
		Description: `Lists each identifier airlock reads (machine-id, the SMBIOS UUID and serials,
a hypervisor VM id, physical NIC addresses, the root filesystem and its disk's
serial, an operator id), as the hashed value that leaves the host (never the raw
value), says which are missing or unreadable and why, and how firmly a licence
issued now would be bound: how many identifiers must match, and whether the
binding is weak (fewer than 3 identifiers, or none that stays with the machine
when its disk or files are copied), with what to do about it. The vendor's desk
refuses a weak request unless the product key was sold for such hosts.

Containers: provision an operator id with each deployment, a secret file of 16 or
more random characters at /run/secrets/airlock-operator-id (or
/etc/airlock/operator-id), readable by the product's service account.

Example: ` + t.name() + ` fingerprint --json`,
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
			b := h.Binding()
			if c.Bool("json") {
				return cliutil.WriteJSON(out, struct {
					*activator.HostFingerprint
					Binding format.Binding `json:"binding"`
					Advice  []string       `json:"advice"`
				}{h, b, advice(h, b)})
			}
			for _, cs := range h.Components {
				switch cs.State {
				case activator.Found:
					fmt.Fprintf(out, "%-18s %s\n", cs.Name, cs.Hash)
				default:
					fmt.Fprintf(out, "%-18s %s: %s\n", cs.Name, cs.State, cs.Reason)
				}
			}
			if b.Components == 0 {
				return errors.New("no machine identifier could be read; a licence cannot be bound to this host")
			}
			stay := "stay"
			if b.MachineBound == 1 {
				stay = "stays"
			}
			fmt.Fprintf(out, "%d identifiers found (%d %s with the machine); a licence issued now needs %d of them to match\n", b.Components, b.MachineBound, stay, b.Threshold)
			printWeak(out, h, b)
			return nil
		},
	}
}

func advice(h *activator.HostFingerprint, b format.Binding) []string {
	if !b.Weak {
		return []string{}
	}
	return h.Advice()
}

// printWeak says plainly when a binding is weak, and what the admin can do.
func printWeak(w io.Writer, h *activator.HostFingerprint, b format.Binding) {
	if !b.Weak {
		return
	}
	fmt.Fprintf(w, "WEAK BINDING: %s. A copy of this host's disk or files would carry its licence to another machine, so the vendor's desk refuses such a request unless the product key was sold for it (containers).\n", b.Reason)
	for _, a := range advice(h, b) {
		fmt.Fprintf(w, "  to bind it firmly: %s\n", a)
	}
}
