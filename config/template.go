package config

import (
	_ "embed"
	"io"
)

//go:embed template.toml
var answersTemplate string

// WriteTemplate writes the commented answers file printed by
// `tappaas install --print-answers` to w: every key, its default, what it
// means.
func WriteTemplate(w io.Writer) error {
	_, err := io.WriteString(w, answersTemplate)
	return err
}
