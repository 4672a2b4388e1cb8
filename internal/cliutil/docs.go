//go:build !urfave_cli_no_docs

package cliutil

import (
	"io"

	"github.com/urfave/cli/v2"
)

func init() { docsCommand = DocsCommand }

// DocsCommand is a hidden command that prints the tool's manual, as a man
// page or as Markdown, from the same definitions as --help (make docs).
func DocsCommand() *cli.Command {
	return &cli.Command{
		Name:   "docs",
		Hidden: true,
		Usage:  "print the manual (--man or --markdown)",
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "man"}, &cli.BoolFlag{Name: "markdown"}},
		Action: func(c *cli.Context) error {
			var out string
			var err error
			switch {
			case c.Bool("man") == c.Bool("markdown"):
				return Usagef("docs needs --man or --markdown")
			case c.Bool("man"):
				out, err = c.App.ToMan()
			default:
				out, err = c.App.ToMarkdown()
			}
			if err != nil {
				return err
			}
			_, err = io.WriteString(c.App.Writer, out)
			return err
		},
	}
}
