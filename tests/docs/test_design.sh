# SPDX-License-Identifier: MIT
# docs/design.md is the contract: every message, field, enum and enum value of
# proto/idsr.proto and every table, view and column of schema.sql must be named in
# it. A member counts only in the table that follows the line introducing its type
# (a line starting with `Hello`, `boots`, …; a heading or the table's end closes
# it), so a field named in another message's table, or only in prose, does not.
# The proto is read by protoc-c itself (its generated descriptors), the schema by
# SQLite itself, so neither is parsed by hand. The test then proves each check can
# fail, on copies with an undocumented field, value, message, column, table or
# view, and on a copy of the document with a row removed.
. "$(dirname "$0")/../lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export LC_ALL=C

# proto_names PROTO: "Type" and "Type<TAB>member" lines, from protoc-c's output.
# Checks that it found as many members as each descriptor says it has, so a
# change in the generated code's layout fails loudly instead of checking nothing.
proto_names() {
	local out=$T/gen.$$
	rm -rf "$out"; mkdir -p "$out"
	protoc-c --c_out="$out" -I"$(dirname "$1")" "$1" || { echo "ERROR protoc-c failed on $1"; return; }
	awk '
	function quoted(s) { match(s, /"[^"]*"/); return substr(s, RSTART + 1, RLENGTH - 2) }
	/ProtobufCFieldDescriptor [A-Za-z0-9_]+__field_descriptors\[[0-9]+\] =/ {
		match($0, /[A-Za-z0-9_]+__field_descriptors/); var = substr($0, RSTART, RLENGTH); kind = "f"; next }
	/ProtobufCEnumValue [A-Za-z0-9_]+__enum_values_by_number\[[0-9]+\] =/ {
		match($0, /[A-Za-z0-9_]+__enum_values_by_number/); var = substr($0, RSTART, RLENGTH); kind = "e"; next }
	kind == "f" && /^  \{$/ { want = 1; next }
	kind == "f" && want && /"/ { members[var] = members[var] " " quoted($0); n[var]++; want = 0; next }
	kind == "e" && /^  \{ "/ { members[var] = members[var] " " quoted($0); n[var]++; next }
	kind != "" && /^};/ { kind = ""; want = 0; next }
	/PROTOBUF_C__(MESSAGE|ENUM)_DESCRIPTOR_MAGIC,/ { desc = 1; nq = 0; count = -1; dvar = "NULL"; next }
	desc && /^ *"/ { q[++nq] = quoted($0); next }
	desc && count < 0 && nq >= 4 && /^ *[0-9]+,/ { count = $1 + 0; next }
	desc && /__field_descriptors,|__enum_values_by_number,/ { dvar = $1; sub(/,$/, "", dvar); next }
	desc && /^};/ {
		desc = 0
		type = substr(q[1], length(q[4]) + 2)	# the full name less the package
		print type
		got = dvar == "NULL" ? 0 : n[dvar] + 0
		if (got != count)
			print "ERROR " type ": read " got " members, its descriptor says " count
		m = split(members[dvar], list, " ")
		for (i = 1; i <= m; i++)
			print type "\t" list[i]
	}' "$out"/*.pb-c.c
}

# schema_names SQL: "table" and "table<TAB>column" lines for every table and view.
schema_names() {
	sqlite3 :memory: ".read $1" \
		"SELECT m.name || char(9) || c.name FROM sqlite_master m, pragma_table_info(m.name) c
		 WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%'
		 UNION ALL SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'" ||
		echo "ERROR sqlite3 cannot read $1"
}

# doc_names DOC: "Type<TAB>name" for the names in the first backquoted cell of each
# table row under an introducing line (a paragraph that starts with `Type`), and
# "<TAB>name" for every backquoted name anywhere.
doc_names() {
	awk '
	BEGIN { tick = sprintf("%c", 96); blank = 1 }
	{
		line = $0
		while (match(line, tick "[^" tick "]+" tick)) {
			print "\t" substr(line, RSTART + 1, RLENGTH - 2)
			line = substr(line, RSTART + RLENGTH)
		}
	}
	/^#/ { anchor = ""; intable = 0 }
	!/^\|/ && intable { anchor = ""; intable = 0 }
	/^\|/ && anchor != "" {
		blank = 0; intable = 1; cell = 0; inside = 0; tok = ""; namecell = -1
		for (i = 1; i <= length($0); i++) {
			ch = substr($0, i, 1)
			if (ch == tick) {
				if (inside && namecell < 0) namecell = cell
				if (inside && cell == namecell) print anchor "\t" tok
				inside = !inside; tok = ""
			} else if (inside) {
				tok = tok ch
			} else if (ch == "|" && substr($0, i - 1, 1) != "\\") {
				cell++
			}
		}
		next
	}
	/^\|/ { blank = 0; intable = 1; next }
	blank && $0 ~ "^" tick "[A-Za-z_][A-Za-z0-9_.]*" tick {
		anchor = substr($0, 2); sub(tick ".*", "", anchor)
	}
	{ blank = /^[[:space:]]*$/ }' "$1" | sort -u
}

# undocumented NAMES DOC: the names (from proto_names or schema_names) that DOC does
# not name, one a line as "Type" or "Type.member"; ERROR lines pass through.
undocumented() {
	local have=$T/doc.$$
	doc_names "$2" >"$have"
	while IFS= read -r line; do
		case $line in
		ERROR*) echo "$line" ;;
		*"	"*) grep -qxF -- "$line" "$have" || echo "${line%%	*}.${line#*	}" ;;
		*) grep -qxF -- "	$line" "$have" || echo "$line" ;;
		esac
	done <"$1"
}

# check_documented WHAT NAMES_FILE DOC: ok when every name is documented.
check_documented() {
	local missing
	missing=$(undocumented "$2" "$3")
	if [ -z "$missing" ]; then ok "$1: all $(wc -l <"$2") names are in $(basename "$3")"; else
		not_ok "$1: not named in $(basename "$3") (add them, in their type's table)"
		echo "$missing" | sed 's/^/#   /'
	fi
}

# check_missing NAME EXPECTED NAMES_FILE DOC BASE_NAMES: what NAMES_FILE has
# undocumented in DOC, less what BASE_NAMES (the real file's) has undocumented in
# the real document, is EXPECTED: so the probes stand whatever the real state.
check_missing() {
	undocumented "$5" "$DOC" | sort >"$T/base.missing"
	check "$1" "$2" "$(undocumented "$3" "$4" | sort | comm -23 - "$T/base.missing" | tr '\n' ' ' | sed 's/ $//')"
}

DOC=$SRC/docs/design.md
proto_names "$SRC/proto/idsr.proto" >"$T/proto.names"
schema_names "$SRC/schema.sql" >"$T/schema.names"

# what was read is what the files hold (a parser that finds nothing checks nothing)
check "messages and enums read from idsr.proto" \
	"$(grep -cE '^[[:space:]]*(message|enum)[[:space:]]' "$SRC/proto/idsr.proto")" \
	"$(grep -cv '	' "$T/proto.names")"
check "Hello.protocol and Frame.hello read" "Hello	protocol Frame	hello" \
	"$(grep -xE 'Hello	protocol|Frame	hello' "$T/proto.names" | sort -r | tr '\n' ' ' | sed 's/ $//')"
check "tables and views read from schema.sql" \
	"$(grep -ciE '^[[:space:]]*CREATE[[:space:]]+(TABLE|VIEW)' "$SRC/schema.sql")" \
	"$(grep -cv '	' "$T/schema.names")"
check "boots.id and accesses_v.name read" "accesses_v	name boots	id" \
	"$(grep -xE 'boots	id|accesses_v	name' "$T/schema.names" | sort | tr '\n' ' ' | sed 's/ $//')"

check_documented "proto/idsr.proto" "$T/proto.names" "$DOC"
check_documented "schema.sql" "$T/schema.names" "$DOC"

# ---- the checks can fail --------------------------------------------------------

mkdir -p "$T/probe"
P=$T/probe/idsr.proto
sed 's/^message Access {$/&\n  uint64 probe_field = 99;/' "$SRC/proto/idsr.proto" >"$P"
proto_names "$P" >"$T/p.names"
check_missing "a new field is caught" "Access.probe_field" "$T/p.names" "$DOC" "$T/proto.names"
sed 's/^  INTERNAL = 8;$/&\n  PROBE_CODE = 9;/' "$SRC/proto/idsr.proto" >"$P"
proto_names "$P" >"$T/p.names"
check_missing "a new enum value is caught" "ErrorCode.PROBE_CODE" "$T/p.names" "$DOC" "$T/proto.names"
{ cat "$SRC/proto/idsr.proto"; printf 'message ProbeMessage {\n  oneof x {\n    uint32 probe_a = 1;\n  }\n}\n'; } >"$P"
proto_names "$P" >"$T/p.names"
check_missing "a new message and its oneof member are caught" "ProbeMessage ProbeMessage.probe_a" \
	"$T/p.names" "$DOC" "$T/proto.names"

S=$T/probe/schema.sql
{ cat "$SRC/schema.sql"; echo "ALTER TABLE boots ADD COLUMN probe_col INTEGER;"; } >"$S"
schema_names "$S" >"$T/s.names"
check_missing "a new column is caught" "boots.probe_col" "$T/s.names" "$DOC" "$T/schema.names"
{ cat "$SRC/schema.sql"; echo "CREATE TABLE probe_table (probe_a INTEGER, probe_b TEXT);"
  echo "CREATE VIEW probe_view AS SELECT 1 AS probe_v;"; } >"$S"
schema_names "$S" >"$T/s.names"
check_missing "a new table and view are caught" \
	"probe_table probe_table.probe_a probe_table.probe_b probe_view probe_view.probe_v" "$T/s.names" "$DOC" \
	"$T/schema.names"

# the document's side: a row removed, though the name still appears elsewhere
D=$T/probe/design.md
grep -v '^| 14 | `rule_source` |' "$DOC" >"$D"
check "probe: the rule_source row was removed" 1 "$(($(wc -l <"$DOC") - $(wc -l <"$D")))"
check_missing "a field named only outside its table is caught" "Event.rule_source" "$T/proto.names" "$D" \
	"$T/proto.names"
grep -v '^| `peer_gid` | INTEGER | its gid (schema 2' "$DOC" >"$D"
check_missing "a column named only in other tables is caught" "policy_changes.peer_gid" "$T/schema.names" \
	"$D" "$T/schema.names"

# no pointer to the old design document outside the repository
check "nothing points at the old DESIGN.md outside the repository" "" \
	"$(cd "$SRC" && grep -rn '\.\./shared' README.md docs proto lib idsrd cli replay \
		schema.sql man tests scripts)"

done_testing
