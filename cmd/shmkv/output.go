package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"unicode/utf8"

	"github.com/shmkv/shmkv/metrics"
)

// outputHelp is 'shmkv help output': the one rule for how every command
// prints keys, values and table names, which may hold any bytes.
const outputHelp = `Keys, values and table names may hold any bytes. The commands that print
them (get, ttl, keys, watch, check, ls) do so by one rule.

JSON (--json): each key, value or table name is a field of an object. When
its bytes are valid UTF-8 it is a JSON string under its own name ("key",
"value", "name"); otherwise it is their standard base64 (RFC 4648, padded)
under that name with "_base64" ("key_base64", "value_base64",
"name_base64"), and the plain field is absent. Exactly one of the two is
there, so nothing is lost and text stays readable:
  jq -r '.key // (.key_base64 | @base64d)'
Commands that print a stream (watch --json) print one JSON object a line.

Text: a key, value or name made of printable UTF-8 characters (letters,
marks, numbers, punctuation, symbols and the space) that does not start
with '"' is printed as it is. Any other is printed quoted as Go's
strconv.Quote writes it (and Go's strconv.Unquote reads it): in double
quotes, with \n, \t, \\, \", \xff for a byte that is not UTF-8 and
\u00a0 for an unprintable character, so that it stays on its line:
  "line one\nline two"    "\xff\xfe"
What starts with '"' is quoted, and nothing else is, so a script unquotes
just those lines (in Go, with strconv.Unquote; \xff is a byte, \u00ff a
character).
'shmkv get' is the exception: it writes the value byte for byte. Metrics
(stats --prometheus) label a table by the same rule.

Examples:
  shmkv get demo k --json       {"key":"k","value":"v"}
  shmkv keys demo --json        [{"key":"a"},{"key_base64":"//4="}]
  shmkv watch demo k --json     {"type":"PUT","key":"k","value":"a\nb"}
`

// keyJSON is a key in JSON output: text when it is UTF-8, base64 when not.
type keyJSON struct {
	Key       *string `json:"key,omitempty"`
	KeyBase64 *string `json:"key_base64,omitempty"`
}

// valueJSON is a value in JSON output, by the rule of keyJSON.
type valueJSON struct {
	Value       *string `json:"value,omitempty"`
	ValueBase64 *string `json:"value_base64,omitempty"`
}

// nameJSON is a table name in JSON output, by the rule of keyJSON.
type nameJSON struct {
	Name       string `json:"name,omitempty"`
	NameBase64 string `json:"name_base64,omitempty"`
}

func newKeyJSON(k []byte) keyJSON {
	text, b64 := textOrBase64(k)
	return keyJSON{text, b64}
}

func newValueJSON(v []byte) valueJSON {
	text, b64 := textOrBase64(v)
	return valueJSON{text, b64}
}

// newNameJSON is name by the rule of keyJSON. A name is never empty, so
// its fields need no pointers to be told from absent.
func newNameJSON(name string) nameJSON {
	if utf8.ValidString(name) {
		return nameJSON{Name: name}
	}
	return nameJSON{NameBase64: base64.StdEncoding.EncodeToString([]byte(name))}
}

// textOrBase64 is b as a JSON string when it is valid UTF-8, which
// encoding/json writes losslessly (it writes other bytes as U+FFFD), or
// else as base64; exactly one is set. An empty b is the empty string.
func textOrBase64(b []byte) (text, b64 *string) {
	s := string(b)
	if utf8.ValidString(s) {
		return &s, nil
	}
	e := base64.StdEncoding.EncodeToString(b)
	return nil, &e
}

// printable is s as text output shows it: as it is when it is printable
// text not starting with '"', else Go-quoted, so that it keeps to one
// line and reads back with strconv.Unquote. It is the rule of
// metrics.TableLabel, so a table's label is the name ls shows.
func printable(s string) string { return metrics.Printable(s) }

// writeJSON writes v as one line of JSON, with '<', '>' and '&' as they
// are (encoding/json's default escapes them for HTML, which output for
// jq and scripts does not need).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
