//go:build unix

package cliutil

import "os"

// openTerminal opens the controlling terminal, for a prompt that must not
// come from redirected standard input.
func openTerminal() (in, out *os.File, err error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	out, err = os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		tty.Close()
		return nil, nil, err
	}
	return tty, out, nil
}
