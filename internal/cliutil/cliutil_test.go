package cliutil

import (
	"bytes"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func testApp(got *[]string) *cli.App {
	return &cli.App{
		Name:  "tool",
		Flags: []cli.Flag{&cli.StringFlag{Name: "dir"}},
		Commands: []*cli.Command{
			{
				Name:  "sign",
				Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}}, &cli.BoolFlag{Name: "json"}},
				Action: func(c *cli.Context) error {
					*got = append([]string{c.String("dir"), c.String("output")}, c.Args().Slice()...)
					return nil
				},
			},
			{
				Name: "keys",
				Subcommands: []*cli.Command{{
					Name:  "create",
					Flags: []cli.Flag{&cli.IntFlag{Name: "count"}},
					Action: func(c *cli.Context) error {
						*got = []string{c.String("dir"), c.String("count")}
						return nil
					},
				}},
			},
		},
	}
}

func TestFlagsAnywhere(t *testing.T) {
	cases := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"tool", "sign", "a.req", "-o", "a.lic"}, "|a.lic|a.req", 0},
		{[]string{"tool", "sign", "a.req", "b.req", "--output=out", "--json"}, "|out|a.req|b.req", 0},
		{[]string{"tool", "sign", "a.req", "--dir", "/d", "-o", "x"}, "/d|x|a.req", 0},
		{[]string{"tool", "--dir", "/d", "sign", "--", "-o"}, "/d||-o", 0},
		{[]string{"tool", "keys", "create", "--count", "3", "--dir", "/d"}, "/d|3", 0},
		{[]string{"tool", "sign", "a.req", "-o"}, "", ExitUsage},
		{[]string{"tool", "sign", "--bogus"}, "", ExitUsage},
		{[]string{"tool", "bogus"}, "", ExitUsage},
		{[]string{"tool"}, "", ExitUsage},
	}
	for _, c := range cases {
		var got []string
		var out, errb bytes.Buffer
		code := Run(testApp(&got), c.args, nil, &out, &errb)
		if code != c.code || strings.Join(got, "|") != c.want {
			t.Errorf("%v: exit %d, got %q; want exit %d, %q (stderr %q)", c.args[1:], code, strings.Join(got, "|"), c.code, c.want, errb.String())
		}
		if c.code == ExitUsage && !strings.HasPrefix(lastLine(errb.String()), "tool: ") {
			t.Errorf("%v: usage error not reported on stderr: %q", c.args[1:], errb.String())
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
