// Package cliutil holds what the activator and issuer command-line tools
// share on top of urfave/cli v2: flags typed anywhere on the line, usage
// errors that exit 2, and the mapping of errors to exit codes.
package cliutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
)

// Exit codes of both tools (DESIGN.md, "CLI contract").
const (
	ExitOK        = 0
	ExitFailed    = 1 // refused or failed
	ExitUsage     = 2 // bad usage, unknown command or flag included
	ExitNotActive = 3 // status and check only: not active, not enabled
)

// UsageError is a mistake in the command line.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

// NotActiveError makes a command exit 3 (status, check).
type NotActiveError struct{ Msg string }

func (e *NotActiveError) Error() string { return e.Msg }

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	var ue *UsageError
	var na *NotActiveError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &na):
		return ExitNotActive
	}
	return ExitFailed
}

// Run runs app with args (flags may follow positional arguments), prints
// an error as one line on stderr prefixed by the tool's name, and returns
// the exit code. Nothing in it calls os.Exit, so deferred cleanups (a
// store's Close) always run.
func Run(app *cli.App, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var unknown string
	prepare(app, stdin, stdout, stderr)
	app.CommandNotFound = func(c *cli.Context, name string) { unknown = name }
	ordered, err := Reorder(app, args)
	if err == nil {
		err = app.Run(ordered)
	}
	if err == nil && unknown != "" {
		err = Usagef("unknown command %q; see %s --help", unknown, app.Name)
	}
	if err != nil {
		fmt.Fprintln(stderr, app.Name+": "+strings.Join(strings.Fields(err.Error()), " "))
	}
	return ExitCode(err)
}

// prepare makes app safe to run inside Run: errors are returned, never
// os.Exit-ed; usage errors (unknown flags) are UsageErrors.
func prepare(app *cli.App, stdin io.Reader, stdout, stderr io.Writer) {
	app.Reader, app.Writer, app.ErrWriter = stdin, stdout, stderr
	app.ExitErrHandler = func(*cli.Context, error) {}
	if app.Action == nil {
		// No command: show the help on stderr and exit 2.
		app.Action = func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return Usagef("unknown command %q; see %s --help", c.Args().First(), app.Name)
			}
			cli.HelpPrinter(stderr, cli.AppHelpTemplate, app)
			return Usagef("no command given")
		}
	}
	app.HideVersion = app.Version == ""
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error {
		return Usagef("%v; see %s --help", err, app.Name)
	}
	var setUsage func(prefix string, cmds []*cli.Command)
	setUsage = func(prefix string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			name := strings.TrimSpace(prefix + " " + cmd.Name)
			cmd.OnUsageError = func(c *cli.Context, err error, _ bool) error {
				return Usagef("%s: %v; see %s %s --help", name, err, app.Name, name)
			}
			setUsage(name, cmd.Subcommands)
		}
	}
	setUsage("", app.Commands)
}

// Reorder moves flags typed after positional arguments in front of them,
// so that `issuer sign req.req -o resp.lic` honours -o (urfave/cli v2 alone
// stops at the first positional argument and silently ignores the rest),
// and moves global flags typed after the command name before it. "--"
// ends flag processing as usual.
func Reorder(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	globals, i := takeFlags(app.Flags, args[1:])
	rest := args[1+i:]
	if len(rest) == 0 {
		return args, nil
	}
	cmd := app.Command(rest[0])
	if cmd == nil {
		return args, nil
	}
	// Descend into subcommands (issuer keys create ...).
	path := 1
	for path < len(rest) {
		sub := subcommand(cmd, rest[path])
		if sub == nil {
			break
		}
		cmd, path = sub, path+1
	}
	var flags, pos, moved []string
	for j := path; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			pos = append(pos, rest[j:]...)
			break
		}
		if !isFlag(a) {
			pos = append(pos, a)
			continue
		}
		n := 1
		f := lookup(cmd.Flags, a)
		global := false
		if f == nil {
			f, global = lookup(app.Flags, a), true
		}
		switch {
		case f == nil:
			flags = append(flags, a) // unknown: let the parser refuse it
		case takesValue(f) && !strings.Contains(a, "=") && j+1 >= len(rest):
			// A value flag with nothing after it: refused here, since
			// moved it would swallow an argument, and left last the parser
			// would take it for one.
			return nil, Usagef("flag %s needs a value; see %s %s --help", a, app.Name, strings.Join(rest[:path], " "))
		case global:
			if takesValue(f) && !strings.Contains(a, "=") {
				n = 2
			}
			moved = append(moved, rest[j:j+n]...)
		default:
			if takesValue(f) && !strings.Contains(a, "=") {
				n = 2
			}
			flags = append(flags, rest[j:j+n]...)
		}
		j += n - 1
	}
	out := append([]string{args[0]}, globals...)
	out = append(out, moved...)
	out = append(out, rest[:path]...)
	out = append(out, flags...)
	return append(out, pos...), nil
}

// takeFlags returns the leading flags (with their values) of args and how
// many arguments they span.
func takeFlags(defs []cli.Flag, args []string) ([]string, int) {
	var out []string
	i := 0
	for i < len(args) && isFlag(args[i]) && args[i] != "--" {
		n := 1
		if f := lookup(defs, args[i]); f != nil && takesValue(f) && !strings.Contains(args[i], "=") && i+1 < len(args) {
			n = 2
		}
		out = append(out, args[i:i+n]...)
		i += n
	}
	return out, i
}

func subcommand(cmd *cli.Command, name string) *cli.Command {
	for _, c := range cmd.Subcommands {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

func lookup(defs []cli.Flag, arg string) cli.Flag {
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	for _, f := range defs {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.TakesValue()
	}
	return true
}

// NoArgs refuses positional arguments for a command that takes none.
func NoArgs(c *cli.Context) error {
	if c.Args().Len() > 0 {
		var parts []string
		for _, l := range c.Lineage() {
			if l.Command != nil && l.Command.Name != "" && l.Command.Name != c.App.Name {
				parts = append([]string{l.Command.Name}, parts...)
			}
		}
		name := strings.Join(parts, " ")
		return Usagef("%s takes no arguments (got %q); see %s %s --help", name, c.Args().First(), c.App.Name, name)
	}
	return nil
}

// Output is a file being written: created up front (so that a bad path
// fails before anything changes), never replacing an existing file.
type Output struct {
	c      *cli.Context
	f      *os.File
	path   string // final path; "" until known for a temporary file
	Stdout bool   // writing to the command's standard output
	// NoSync leaves syncing to the caller (SyncFS once after many files).
	NoSync bool
	device bool // an existing device or pipe, never removed
}

// CreateOutput prepares to write path ("-": stdout). The data goes to a
// temporary file beside it, renamed to path by Finish: a bad path fails
// now, before anything changes, and a process killed before Finish leaves
// no empty file in path's place. An existing file is never replaced. With
// path empty the final name is Finish's default name, in the current
// directory, and pattern names the temporary file.
func CreateOutput(c *cli.Context, path, pattern string) (*Output, error) {
	o := &Output{c: c, path: path}
	switch {
	case path == "-":
		o.Stdout = true
		return o, nil
	case path == "":
		f, err := os.CreateTemp(".", pattern)
		if err != nil {
			return nil, err
		}
		o.f = f
		return o, nil
	}
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode().IsRegular() || fi.IsDir() {
			return nil, fmt.Errorf("%s exists; choose another file with -o", path)
		}
		// A device or a pipe (/dev/null, a FIFO): written, not replaced.
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		o.f, o.device = f, true
		return o, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	o.f = f
	return o, nil
}

// Name is the file's path ("-" for stdout).
func (o *Output) Name() string {
	if o.Stdout {
		return "-"
	}
	return o.path
}

// Finish writes data; a temporary file gets defaultName, which must not
// exist yet.
func (o *Output) Finish(data []byte, defaultName string) error {
	if o.Stdout {
		_, err := io.Copy(o.c.App.Writer, bytes.NewReader(data))
		return err
	}
	_, err := o.f.Write(data)
	if err == nil && !o.device && !o.NoSync {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if o.device {
		return err
	}
	if err != nil {
		os.Remove(o.f.Name())
		return err
	}
	if o.path == "" {
		o.path = defaultName
	}
	// A link fails if the name exists: nothing is ever replaced.
	if err := os.Link(o.f.Name(), o.path); err != nil {
		os.Remove(o.f.Name())
		if os.IsExist(err) {
			return fmt.Errorf("%s exists; choose another file with -o", o.path)
		}
		return err
	}
	os.Remove(o.f.Name())
	return nil
}

// Abort removes a file created for output that will not be written.
func (o *Output) Abort() {
	if o != nil && o.f != nil {
		o.f.Close()
		if !o.device {
			os.Remove(o.f.Name())
		}
	}
}

// docsCommand is DocsCommand where the manual generator is built in (not
// with the urfave_cli_no_docs tag, which spares a tool the Markdown
// library's start-up cost).
var docsCommand func() *cli.Command

// Commands returns cmds, plus the hidden docs command where it is built in.
func Commands(cmds ...*cli.Command) []*cli.Command {
	if docsCommand != nil {
		cmds = append(cmds, docsCommand())
	}
	return cmds
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ReadInput reads a file, or standard input for "-", reading at most
// limit+1 bytes: the parser refuses more than limit with a clear error.
func ReadInput(c *cli.Context, limit int, path string) ([]byte, error) {
	var r io.Reader = c.App.Reader
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %v", path, err)
	}
	return b, nil
}
