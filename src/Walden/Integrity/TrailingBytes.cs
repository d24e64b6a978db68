namespace Walden.Integrity;

/// <summary>
/// Bytes past a database's last whole page: a copy interrupted in its last page, or a tool that appended a few bytes, leaves
/// them. SQLite takes the page count from the header when the header's count is valid (btree.c, lockBtree: the in-header
/// database size), so such bytes are never read and integrity_check is "ok": they are no damage, and every command says so in
/// the same words, as a note. When the header's count is not valid SQLite counts the partial page as a page (pager.c rounds
/// the file size up), and its own check then reports that page: that is no note, and none is given.
/// </summary>
internal static class TrailingBytes
{
    /// <summary>
    /// The note for a file of <paramref name="fileBytes"/> that SQLite reads as <paramref name="pageCount"/> pages of
    /// <paramref name="pageSize"/> bytes, or null when its length is a whole number of pages or SQLite counts the partial page.
    /// </summary>
    internal static string? Note(long? fileBytes, long pageSize, long pageCount)
    {
        if (fileBytes is not { } length || pageSize <= 0 || length % pageSize == 0 || pageCount > length / pageSize)
        {
            return null;
        }

        var trailing = length % pageSize;
        return $"The file ends with {trailing:N0} trailing byte{(trailing == 1 ? "" : "s")} beyond its last whole page (its length, " +
            $"{length:N0} bytes, is not a whole number of {pageSize:N0}-byte pages; an interrupted copy or a tool that appended to the " +
            $"file leaves this). SQLite ignores them: it reads the {pageCount:N0} pages its header declares, so this is no damage. " +
            "They go away at the next VACUUM, and a backup does not carry them.";
    }
}
