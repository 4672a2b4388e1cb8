package cliutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unsafe"
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
		line, _, _ := bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return nil, fmt.Errorf("passphrase file %s is empty", file)
		}
		return line, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, errors.New("no passphrase: give --passphrase-file (or ISSUER_PASSPHRASE_FILE), or run on a terminal")
	}
	defer tty.Close()
	p, err := ask(tty, prompt)
	if err != nil || !confirm {
		return p, err
	}
	again, err := ask(tty, "again: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, again) {
		return nil, errors.New("the passphrases differ")
	}
	return p, nil
}

// ask reads one line from the terminal with echo off.
func ask(tty *os.File, prompt string) ([]byte, error) {
	fd := tty.Fd()
	var old syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&old))); e != 0 {
		return nil, fmt.Errorf("terminal: %v", e)
	}
	noEcho := old
	noEcho.Lflag &^= syscall.ECHO
	noEcho.Lflag |= syscall.ICANON | syscall.ISIG
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&noEcho))); e != 0 {
		return nil, fmt.Errorf("terminal: %v", e)
	}
	restore := func() { syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&old))) }
	defer restore()
	// Ctrl-C at the prompt must not leave the terminal without echo.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sig; ok {
			restore()
			fmt.Fprintln(tty)
			os.Exit(130)
		}
	}()
	defer func() { signal.Stop(sig); close(sig) }()
	fmt.Fprint(tty, prompt)
	line, err := bufio.NewReader(tty).ReadString('\n')
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("terminal: %v", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty passphrase")
	}
	return []byte(line), nil
}
