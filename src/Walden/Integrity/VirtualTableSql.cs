namespace Walden.Integrity;

/// <summary>
/// The module and arguments of a <c>CREATE VIRTUAL TABLE</c> statement as it stands in <c>sqlite_schema</c>, read the way SQLite
/// reads it, so that every spelling SQLite accepts is recognized: the module name is any identifier (<c>fts5</c>, <c>"fts5"</c>,
/// <c>'fts5'</c>, <c>[fts5]</c>, <c>`fts5`</c>; parse.y's <c>USING nm</c>) looked up without regard to case, with whitespace and
/// comments anywhere between tokens; each argument is the text between top-level commas (parse.y's <c>vtabarg</c>). The
/// full-text options (tokenizer, content) are read from the arguments as FTS3/FTS4 (fts3.c, <c>tokenize=name args</c>,
/// <c>content=table</c>) and FTS5 (fts5_config.c, <c>tokenize='name args'</c>, an option name may be shortened) read them.
/// No pragma names the module of a table, so this is the one place Walden reads it from the SQL.
/// </summary>
internal sealed class VirtualTableSql
{
    private static readonly string[] Fts5Options =
        ["prefix", "tokenize", "content", "contentless_delete", "contentless_unindexed", "content_rowid", "columnsize", "locale", "detail", "tokendata"];

    private VirtualTableSql(string module, IReadOnlyList<string> arguments)
    {
        Module = module;
        Arguments = arguments;
        FullTextModule = module.ToLowerInvariant() is "fts3" or "fts4" or "fts5" ? module.ToLowerInvariant() : null;
        if (FullTextModule == "fts5")
        {
            ReadFts5Options();
        }
        else if (FullTextModule is not null)
        {
            ReadFts3Options(FullTextModule == "fts4");
        }
    }

    /// <summary>The module name, unquoted, as written (SQLite looks modules up without regard to case).</summary>
    internal string Module { get; }

    /// <summary>The arguments between the parentheses, each as written (quotes kept); empty when there are none.</summary>
    internal IReadOnlyList<string> Arguments { get; }

    /// <summary><c>fts3</c>, <c>fts4</c> or <c>fts5</c> (lower case) when the module is one of SQLite's full-text modules; otherwise null.</summary>
    internal string? FullTextModule { get; }

    /// <summary>The tokenizer a full-text table names (the first word of its tokenize argument, unquoted); null for the default.</summary>
    internal string? Tokenizer { get; private set; }

    /// <summary>
    /// A full-text table's whole tokenize argument, unquoted (FTS5's <c>'porter mytok'</c>: <c>porter mytok</c>, porter wrapping
    /// mytok); null for the default.
    /// </summary>
    internal string? TokenizeArgument { get; private set; }

    /// <summary>A full-text table's content option, unquoted: null when absent, empty when contentless, else the external content table.</summary>
    internal string? Content { get; private set; }

    /// <summary>A full-text table declared <c>content=''</c>: it keeps no copy of its rows.</summary>
    internal bool IsContentless => Content is { Length: 0 };

    /// <summary>A full-text table that indexes another table's rows (<c>content=table</c>).</summary>
    internal bool IsExternalContent => Content is { Length: > 0 };

    /// <summary>True when <paramref name="sql"/> is a <c>CREATE VIRTUAL TABLE</c> statement, in any spelling SQLite accepts.</summary>
    internal static bool IsVirtualTable(string? sql)
    {
        var tokens = Tokens(sql ?? string.Empty).GetEnumerator();
        return tokens.MoveNext() && IsWord(sql!, tokens.Current, "CREATE") && tokens.MoveNext() && IsWord(sql!, tokens.Current, "VIRTUAL");
    }

    /// <summary>The module and arguments of <paramref name="sql"/>, or null when it is not a <c>CREATE VIRTUAL TABLE</c> statement SQLite could read.</summary>
    internal static VirtualTableSql? Parse(string? sql)
    {
        if (sql is null)
        {
            return null;
        }

        var tokens = Tokens(sql).ToList();
        var i = 0;
        bool Next(string word) => i < tokens.Count && IsWord(sql, tokens[i], word) && ++i > 0;
        if (!(Next("CREATE") && Next("VIRTUAL") && Next("TABLE")))
        {
            return null;
        }

        if (i + 2 < tokens.Count && IsWord(sql, tokens[i], "IF") && IsWord(sql, tokens[i + 1], "NOT") && IsWord(sql, tokens[i + 2], "EXISTS"))
        {
            i += 3;
        }

        i++; // the table's name
        if (i + 1 < tokens.Count && tokens[i].Length == 1 && sql[tokens[i].Start] == '.')
        {
            i += 2; // schema.name
        }

        if (!Next("USING") || i >= tokens.Count || !IsName(sql[tokens[i].Start]))
        {
            return null;
        }

        var module = Dequote(sql.Substring(tokens[i].Start, tokens[i].Length));
        i++;
        var arguments = new List<string>();
        if (i < tokens.Count && sql[tokens[i].Start] == '(')
        {
            var depth = 0;
            int? first = null;
            var last = 0;
            for (i++; i < tokens.Count; i++)
            {
                var c = tokens[i].Length == 1 ? sql[tokens[i].Start] : '\0';
                if (depth == 0 && c is ',' or ')')
                {
                    arguments.Add(first is { } start ? sql[start..last] : string.Empty);
                    first = null;
                    if (c == ')')
                    {
                        break;
                    }

                    continue;
                }

                depth += c == '(' ? 1 : c == ')' ? -1 : 0;
                first ??= tokens[i].Start;
                last = tokens[i].Start + tokens[i].Length;
            }

            if (arguments.Count == 1 && arguments[0].Length == 0)
            {
                arguments.Clear(); // USING m()
            }
        }

        return new VirtualTableSql(module, arguments);
    }

    /// <summary>
    /// Removes SQL quotes (<c>"x"</c>, <c>'x'</c>, <c>`x`</c> with the quote doubled inside, <c>[x]</c>) as SQLite's
    /// <c>sqlite3Dequote</c> does; other text is returned as it is.
    /// </summary>
    internal static string Dequote(string text)
    {
        if (text.Length == 0 || text[0] is not ('"' or '\'' or '`' or '['))
        {
            return text;
        }

        var close = text[0] == '[' ? ']' : text[0];
        var result = new System.Text.StringBuilder();
        for (var i = 1; i < text.Length; i++)
        {
            if (text[i] == close)
            {
                if (close != ']' && i + 1 < text.Length && text[i + 1] == close)
                {
                    result.Append(close);
                    i++;
                    continue;
                }

                break;
            }

            result.Append(text[i]);
        }

        return result.ToString();
    }

    /// <summary>fts3.c: the first argument <c>tokenize&lt;non-word character&gt;...</c> names the tokenizer; FTS4's options are <c>key=value</c>.</summary>
    private void ReadFts3Options(bool fts4)
    {
        foreach (var argument in Arguments)
        {
            if (Tokenizer is null && argument.Length > 8 && argument.StartsWith("tokenize", StringComparison.OrdinalIgnoreCase) && !IsFts3IdChar(argument[8]))
            {
                Tokenizer = Fts3FirstToken(argument[9..]);
                TokenizeArgument = argument[9..].Trim();
            }
            else if (fts4 && argument.IndexOf('=', StringComparison.Ordinal) is var equals and >= 0 &&
                     argument[..equals].Equals("content", StringComparison.OrdinalIgnoreCase))
            {
                Content = Dequote(argument[(equals + 1)..]);
            }
        }
    }

    /// <summary>fts3_tokenizer.c's <c>sqlite3Fts3NextToken</c>: the first quoted or word token, unquoted.</summary>
    private static string Fts3FirstToken(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is '\'' or '"' or '`' or '[')
            {
                return Dequote(text[i..]);
            }

            if (IsFts3IdChar(c))
            {
                var end = i;
                while (end < text.Length && IsFts3IdChar(text[end]))
                {
                    end++;
                }

                return text[i..end];
            }
        }

        return text;
    }

    /// <summary>fts5_config.c: an argument <c>word = value</c> (word bare, value a bare word or quoted) is an option, named by any prefix.</summary>
    private void ReadFts5Options()
    {
        foreach (var argument in Arguments)
        {
            var (key, rest) = Fts5Word(argument);
            rest = rest.TrimStart(' ');
            if (key is not { } word || word.Quoted || !rest.StartsWith('='))
            {
                continue; // a column
            }

            var (value, _) = Fts5Word(rest[1..].TrimStart(' '));
            var option = Array.Find(Fts5Options, o => o.StartsWith(word.Text, StringComparison.OrdinalIgnoreCase));
            if (option == "tokenize" && value is not null)
            {
                // The value is a list of words; the first names the tokenizer ('porter ascii': porter wrapping ascii).
                var (name, _) = Fts5Word(value.Value.Text.TrimStart(' '));
                Tokenizer = name?.Text;
                TokenizeArgument = value.Value.Text.Trim(' ');
            }
            else if (option == "content")
            {
                Content = value?.Text ?? string.Empty;
            }
        }
    }

    /// <summary>fts5_config.c's <c>fts5ConfigGobbleWord</c>: a quoted word (unquoted) or a bare word, and the text after it.</summary>
    private static ((string Text, bool Quoted)? Word, string After) Fts5Word(string text)
    {
        if (text.Length == 0)
        {
            return (null, text);
        }

        if (text[0] is '\'' or '"' or '`' or '[')
        {
            var close = text[0] == '[' ? ']' : text[0];
            var i = 1;
            while (i < text.Length)
            {
                if (text[i] == close)
                {
                    if (i + 1 < text.Length && text[i + 1] == close)
                    {
                        i += 2;
                        continue;
                    }

                    i++;
                    break;
                }

                i++;
            }

            return ((Dequote(text[..i]), true), text[i..]);
        }

        var end = 0;
        while (end < text.Length && (text[end] >= 0x80 || char.IsAsciiLetterOrDigit(text[end]) || text[end] is '_' or '\x1A'))
        {
            end++;
        }

        return end == 0 ? (null, text) : ((text[..end], false), text[end..]);
    }

    private static bool IsFts3IdChar(char c) => c >= 0x80 || char.IsAsciiLetterOrDigit(c) || c == '_';

    private static bool IsName(char c) => c is '"' or '\'' or '`' or '[' || c >= 0x80 || char.IsAsciiLetterOrDigit(c) || c is '_' or '$';

    private static bool IsWord(string sql, (int Start, int Length) token, string word) =>
        token.Length == word.Length && string.Compare(sql, token.Start, word, 0, word.Length, StringComparison.OrdinalIgnoreCase) == 0;

    /// <summary>The tokens of <paramref name="sql"/> as SQLite's tokenizer (tokenize.c) splits them, whitespace and comments left out.</summary>
    private static IEnumerable<(int Start, int Length)> Tokens(string sql)
    {
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            var start = i;
            if (c is ' ' or '\t' or '\n' or '\f' or '\r')
            {
                i++;
                continue;
            }

            if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                i = sql.IndexOf('\n', i) is var newline and >= 0 ? newline + 1 : sql.Length;
                continue;
            }

            if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                i = sql.IndexOf("*/", i + 2, StringComparison.Ordinal) is var end and >= 0 ? end + 2 : sql.Length;
                continue;
            }

            if (c is '"' or '\'' or '`')
            {
                for (i++; i < sql.Length; i++)
                {
                    if (sql[i] == c)
                    {
                        if (i + 1 < sql.Length && sql[i + 1] == c)
                        {
                            i++;
                            continue;
                        }

                        break;
                    }
                }

                i = Math.Min(i + 1, sql.Length);
            }
            else if (c == '[')
            {
                i = sql.IndexOf(']', i) is var close and >= 0 ? close + 1 : sql.Length;
            }
            else if (IsName(c))
            {
                while (i < sql.Length && IsName(sql[i]) && sql[i] is not ('"' or '\'' or '`' or '['))
                {
                    i++;
                }
            }
            else
            {
                i++;
            }

            yield return (start, i - start);
        }
    }
}
