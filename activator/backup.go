package activator

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/airlock-license/airlock/internal/kv"
)

// A backup file keeps a copy of the store: the host key, every request,
// licence, receipt and revocation list. It is
//
//	airlock-store-backup/1
//	sha256 <64 hex digits> <length>
//	<length bytes: the store's records, as Badger's backup stream>
//
// and holds the host's secret key: keep it as safely as the store itself.
// A store restored from it is the same store, so it works where the store
// worked: its licences are bound to this machine's identifiers and are not
// active on another machine (see SECURITY.md, copies and clones).
const backupMagic = "airlock-store-backup/1"

// MaxBackupSize bounds a backup file read by Restore.
const MaxBackupSize = 256 << 20

// ErrBadBackup: a backup file that is cut, altered or not a backup.
var ErrBadBackup = errors.New("not a usable store backup")

// Backup writes a backup of the store to w, reading the store as status
// does: nothing in it changes.
func Backup(cfg Config, w io.Writer) error {
	if err := cfg.check(); err != nil {
		return err
	}
	var body bytes.Buffer
	if err := kv.Backup(cfg.Dir, &body, cfg.lockWait(), cfg.logger(), cfg.command()); err != nil {
		return err
	}
	sum := sha256.Sum256(body.Bytes())
	if _, err := fmt.Fprintf(w, "%s\nsha256 %s %d\n", backupMagic, hex.EncodeToString(sum[:]), body.Len()); err != nil {
		return err
	}
	_, err := w.Write(body.Bytes())
	return err
}

// Restore makes the store at cfg.Dir from a backup written by Backup. It
// refuses a backup that is cut or altered (ErrBadBackup) before anything
// is written, and never writes over an existing store.
func Restore(cfg Config, r io.Reader) error {
	if err := cfg.check(); err != nil {
		return err
	}
	br := bufio.NewReader(io.LimitReader(r, MaxBackupSize+256))
	bad := func(why string) error {
		return refuse(ErrBadBackup, why+"; restore from the backup file exactly as it was written")
	}
	magic, _ := br.ReadString('\n')
	if strings.TrimRight(magic, "\r\n") != backupMagic {
		return bad("the file does not start with " + backupMagic)
	}
	header, _ := br.ReadString('\n')
	f := strings.Fields(header)
	if len(f) != 3 || f[0] != "sha256" || len(f[1]) != 64 {
		return bad("the second line is not \"sha256 <digest> <length>\"")
	}
	n, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || n < 0 || n > MaxBackupSize {
		return bad(fmt.Sprintf("the length %q is not a number up to %d", f[2], MaxBackupSize))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return bad(fmt.Sprintf("the file is cut (it holds less than the %d bytes it says)", n))
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return bad("the file holds more than it says")
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != strings.ToLower(f[1]) {
		return bad("the records do not match their digest (the file was altered or damaged)")
	}
	return kv.Restore(cfg.Dir, bytes.NewReader(body), cfg.logger())
}
