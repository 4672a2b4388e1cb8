package cliutil

import (
	"os"
	"path/filepath"
	"testing"
)

// A passphrase file saved by Notepad (byte-order mark, CRLF) gives the
// same passphrase as one saved by vi.
func TestPassphraseFileTextForms(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"plain": "correct horse\n",
		"crlf":  "correct horse\r\n",
		"bom":   "\xef\xbb\xbfcorrect horse\r\n",
		"noeol": "correct horse",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Passphrase(p, "", false)
		if err != nil || string(got) != "correct horse" {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	p := filepath.Join(dir, "empty")
	os.WriteFile(p, []byte("\xef\xbb\xbf\r\n"), 0o600)
	if _, err := Passphrase(p, "", false); err == nil {
		t.Error("a file holding only a byte-order mark and a line end gave a passphrase")
	}
}
