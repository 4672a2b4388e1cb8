package activator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// commandRunner runs a program, named by its absolute path and never
// through a shell, and returns what it printed on standard output. An
// error says why there is no usable output: the program is absent or may
// not be run (an *fs.PathError), it exited non-zero (an *exitError, with
// the output it printed), it ran past ctx's deadline (wrapping
// context.DeadlineExceeded) or it printed too much (errOutputTooLarge).
// The macOS collector runs its sources through one; tests give fakes.
type commandRunner func(ctx context.Context, path string, args ...string) ([]byte, error)

// defaultCommandTimeout bounds each program a collector runs: the macOS
// sources answer in well under a second, and a licensed product collects
// its fingerprint at every reload, so a hung one must not hold it.
const defaultCommandTimeout = 10 * time.Second

// maxCommandOutput bounds what is kept of a program's output: the macOS
// sources print a few kilobytes.
const maxCommandOutput = 1 << 20

// errOutputTooLarge is the error of a program that printed more than
// maxCommandOutput.
var errOutputTooLarge = errors.New("printed more than 1 MiB")

// exitError is a program that ran and failed: its status ("exit status
// 1", "signal: abort trap") and the first line of its standard error.
type exitError struct {
	Status string
	Stderr string
}

func (e *exitError) Error() string {
	if e.Stderr == "" {
		return e.Status
	}
	return e.Status + ": " + e.Stderr
}

// capped keeps the first max bytes written to it and notes whether more
// came; it never fails a write, so the program runs to its end (or its
// deadline) instead of dying of a broken pipe.
type capped struct {
	b    []byte
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - len(c.b); room < len(p) {
		c.b = append(c.b, p[:max(room, 0)]...)
		c.over = true
	} else {
		c.b = append(c.b, p...)
	}
	return len(p), nil
}

// runCommand is the commandRunner of the real system. The program gets
// this process's environment with LC_ALL=C (so that its messages and
// formats are not translated), no standard input, and is killed at ctx's
// deadline; a second later its pipes are closed even if a child of it
// still holds them.
func runCommand(ctx context.Context, path string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C") // the last value of a key wins
	out, stderr := &capped{max: maxCommandOutput}, &capped{max: 4096}
	cmd.Stdout, cmd.Stderr = out, stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%s did not finish in time: %w", path, ctx.Err())
	}
	if out.over {
		return nil, errOutputTooLarge
	}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return out.b, &exitError{Status: ee.ProcessState.String(), Stderr: firstLine(string(stderr.b))}
	}
	if err != nil {
		return nil, err
	}
	return out.b, nil
}

// firstLine returns the first non-empty line of s, trimmed, made one
// printable line of at most 200 bytes, for a component's reason.
func firstLine(s string) string {
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			return oneLine(l)
		}
	}
	return ""
}

// oneLine replaces control characters with spaces and cuts s to 200
// bytes: a reason is one line, whatever a program printed.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}
