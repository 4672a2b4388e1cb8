package cli

import (
	"fmt"
	"strings"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/cliutil"
	ucli "github.com/urfave/cli/v2"
)

func (t *tool) requestCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "request",
		Usage:     "create a signed activation request to carry to the vendor",
		ArgsUsage: " ",
		Description: `Checks the product key (a mistyped key is refused before anything is written),
creates the host key on first use, and writes the request signed by it, bound to
this machine's fingerprint. Carry the file, or a photo of the QR code, to the vendor.

Example: ` + t.name() + ` request --name "Ada Admin" --org "Example Bank" \
           --product-key C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH --qr request.png --qr-terminal`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "name", Usage: "licensee `NAME`, as on the order"},
			&ucli.StringFlag{Name: "org", Usage: "licensee `ORGANIZATION`"},
			&ucli.StringFlag{Name: "product-key", Usage: "the product `KEY` (case, dashes and spaces do not matter)"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the request to `FILE` (- for stdout); default request-<ID>.req"},
			&ucli.StringFlag{Name: "qr", Usage: "also write the request as a QR code to `FILE.png`"},
			&ucli.BoolFlag{Name: "qr-terminal", Usage: "also show the QR code in the terminal"},
			&ucli.BoolFlag{Name: "unprivileged", Usage: "request without the identifiers only root may read (a weaker binding)"},
		},
		Action: func(c *ucli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			for _, f := range []string{"name", "org", "product-key"} {
				if c.String(f) == "" {
					return cliutil.Usagef("--%s is required; see "+t.name()+" request --help", f)
				}
			}
			// A mistyped key is refused before the store is even opened.
			if _, err := format.ParseProductKey(c.String("product-key")); err != nil {
				return fmt.Errorf("%v; nothing was written", err)
			}
			cfg, err := t.config(c, "request")
			if err != nil {
				return err
			}
			// The output files are created before the store is touched, so
			// that a bad path leaves no orphan pending request behind.
			out := c.String("output")
			outFile, err := cliutil.CreateOutput(c, out, ".request-*.tmp")
			if err != nil {
				return err
			}
			var pngFile *cliutil.Output
			if png := c.String("qr"); png != "" {
				if pngFile, err = cliutil.CreateOutput(c, png, ""); err != nil {
					outFile.Abort()
					return err
				}
			}
			s, err := activator.OpenStore(cfg, true)
			if err != nil {
				outFile.Abort()
				pngFile.Abort()
				return err
			}
			defer s.Close()
			req, err := s.Request(activator.RequestOptions{Name: c.String("name"), Organization: c.String("org"), ProductKey: c.String("product-key"), Unprivileged: c.Bool("unprivileged")})
			if err != nil {
				outFile.Abort()
				pngFile.Abort()
				return err
			}
			if err := outFile.Finish(req.Armored, "request-"+string(req.ID)+".req"); err != nil {
				return fmt.Errorf("request %s is stored but could not be written: %v", req.ID, err)
			}
			msg := c.App.ErrWriter
			if out != "-" {
				msg = c.App.Writer
			}
			if pngFile != nil {
				b, version, err := req.QRCode()
				if err == nil {
					err = pngFile.Finish(b, "")
				}
				if err != nil {
					return fmt.Errorf("write %s: %v", pngFile.Name(), err)
				}
				fmt.Fprintf(msg, "QR code written to %s (version %d, error correction M)\n", pngFile.Name(), version)
				if version > activator.MaxQRVersion {
					fmt.Fprintf(msg, "note: the QR code is large (version %d); if a phone cannot read it, carry the file instead\n", version)
				}
			}
			if c.Bool("qr-terminal") {
				q, err := req.QRTerminal(true)
				if err != nil {
					return err
				}
				fmt.Fprint(msg, q)
			}
			if b := req.Host.Binding(); b.Weak {
				printWeak(c.App.ErrWriter, req.Host, b)
			}
			if out != "-" {
				fmt.Fprintf(msg, "request %s written to %s (identifiers: %s)\n", req.ID, outFile.Name(), strings.Join(req.Components, ", "))
				fmt.Fprintf(msg, "carry it to your vendor; then run: %s import <response file>\n", t.name())
			}
			return nil
		},
	}
}
