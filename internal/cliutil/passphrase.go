package cliutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// MaxPassphraseFile bounds a passphrase file.
const MaxPassphraseFile = 4096

// Passphrase returns the passphrase from file (if set; its first line,
// without the line end) or, failing that, asks on the terminal with echo
// off (twice when confirm is set). It never takes a passphrase from a flag
// value or the environment itself: those leak into shell history and
// process listings.
func Passphrase(file, prompt string, confirm bool) ([]byte, error) {
	if file != "" {
		fi, err := os.Stat(file)
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %v", err)
		}
		if fi.Size() > MaxPassphraseFile {
			return nil, fmt.Errorf("passphrase file %s is larger than %d bytes", file, MaxPassphraseFile)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %v", err)
		}
		// Editors on Windows start a file with a byte-order mark.
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		line, _, _ := bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return nil, fmt.Errorf("passphrase file %s is empty", file)
		}
		return line, nil
	}
	in, out, err := openTerminal()
	if err != nil {
		return nil, errors.New("no passphrase: give --passphrase-file (or ISSUER_PASSPHRASE_FILE), or run on a terminal")
	}
	defer in.Close()
	defer out.Close()
	p, err := ask(in, out, prompt)
	if err != nil || !confirm {
		return p, err
	}
	again, err := ask(in, out, "again: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, again) {
		return nil, errors.New("the passphrases differ")
	}
	return p, nil
}

// ask reads one line from the terminal with echo off.
func ask(in, out *os.File, prompt string) ([]byte, error) {
	fd := int(in.Fd())
	old, err := term.GetState(fd)
	if err != nil {
		return nil, fmt.Errorf("terminal: %v", err)
	}
	restore := func() { term.Restore(fd, old) }
	defer restore()
	// Ctrl-C at the prompt must not leave the terminal without echo.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sig; ok {
			restore()
			fmt.Fprintln(out)
			os.Exit(130)
		}
	}()
	defer func() { signal.Stop(sig); close(sig) }()
	fmt.Fprint(out, prompt)
	line, err := term.ReadPassword(fd)
	fmt.Fprintln(out)
	if err != nil {
		return nil, fmt.Errorf("terminal: %v", err)
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 {
		return nil, errors.New("empty passphrase")
	}
	return line, nil
}
