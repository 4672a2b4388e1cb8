package cliutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a new pseudo-terminal's master and slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestPassphrasePrompt asks on a real (pseudo-)terminal: the passphrase is
// read twice with echo off, and the terminal's echo is back afterwards.
func TestPassphrasePrompt(t *testing.T) {
	if os.Getenv("AIRLOCK_PROMPT_CHILD") == "1" {
		p, err := Passphrase("", "passphrase: ", true)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("got %q\n", p)
		os.Exit(0)
	}
	master, slave := openPTY(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPassphrasePrompt$")
	cmd.Env = append(os.Environ(), "AIRLOCK_PROMPT_CHILD=1")
	cmd.Stdin, cmd.Stderr = nil, os.Stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.ExtraFiles = []*os.File{slave}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 3}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	chunks := make(chan string, 64)
	go func() {
		b := make([]byte, 256)
		for {
			n, err := master.Read(b)
			if err != nil {
				close(chunks)
				return
			}
			chunks <- string(b[:n])
		}
	}()
	exited := make(chan error, 1)
	var shown strings.Builder
	// Typed as a person would: after each prompt shows.
	answers := map[string]string{"passphrase: ": "s3cret words\n", "again: ": "s3cret words\r\n"}
	deadline := time.After(20 * time.Second)
	for waiting := true; waiting; {
		select {
		case c := <-chunks:
			shown.WriteString(c)
			for prompt, answer := range answers {
				if strings.HasSuffix(shown.String(), prompt) {
					time.Sleep(50 * time.Millisecond)
					master.Write([]byte(answer))
					delete(answers, prompt)
					if len(answers) == 0 {
						go func() { exited <- cmd.Wait() }()
					}
				}
			}
		case err := <-exited:
			if err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			waiting = false
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("the prompt did not finish; the terminal showed %q", shown.String())
		}
	}
	time.Sleep(50 * time.Millisecond)
	for len(chunks) > 0 {
		shown.WriteString(<-chunks)
	}
	if got := strings.TrimSpace(out.String()); got != `got "s3cret words"` {
		t.Fatalf("child said %q", got)
	}
	if strings.Contains(shown.String(), "s3cret") {
		t.Fatalf("the passphrase was echoed: %q", shown.String())
	}
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ECHO == 0 {
		t.Fatal("echo is still off after the prompt")
	}
}
