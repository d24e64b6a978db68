using SQLitePCL;

namespace Walden.Native;

// Every call Walden's statement cache does not change, passed to the real provider as it is (written out by a
// reflection over ISQLite3Provider of SQLitePCLRaw.core 3.0.5; the interface is the provider's whole surface).
internal sealed partial class CachingProvider
{
    string ISQLite3Provider.GetNativeLibraryName() => _inner.GetNativeLibraryName();
    int ISQLite3Provider.sqlite3_open(utf8z filename, out IntPtr db) => _inner.sqlite3_open(filename, out db);
    int ISQLite3Provider.sqlite3_open_v2(utf8z filename, out IntPtr db, int flags, utf8z vfs)
        => _inner.sqlite3_open_v2(filename, out db, flags, vfs);
    int ISQLite3Provider.sqlite3_enable_shared_cache(int enable) => _inner.sqlite3_enable_shared_cache(enable);
    void ISQLite3Provider.sqlite3_interrupt(sqlite3 db) => _inner.sqlite3_interrupt(db);
    int ISQLite3Provider.sqlite3__vfs__delete(utf8z vfs, utf8z pathname, int syncDir)
        => _inner.sqlite3__vfs__delete(vfs, pathname, syncDir);
    int ISQLite3Provider.sqlite3_threadsafe() => _inner.sqlite3_threadsafe();
    utf8z ISQLite3Provider.sqlite3_libversion() => _inner.sqlite3_libversion();
    int ISQLite3Provider.sqlite3_libversion_number() => _inner.sqlite3_libversion_number();
    utf8z ISQLite3Provider.sqlite3_sourceid() => _inner.sqlite3_sourceid();
    long ISQLite3Provider.sqlite3_memory_used() => _inner.sqlite3_memory_used();
    long ISQLite3Provider.sqlite3_memory_highwater(int resetFlag) => _inner.sqlite3_memory_highwater(resetFlag);
    long ISQLite3Provider.sqlite3_soft_heap_limit64(long n) => _inner.sqlite3_soft_heap_limit64(n);
    long ISQLite3Provider.sqlite3_hard_heap_limit64(long n) => _inner.sqlite3_hard_heap_limit64(n);
    int ISQLite3Provider.sqlite3_status(int op, out int current, out int highwater, int resetFlag)
        => _inner.sqlite3_status(op, out current, out highwater, resetFlag);
    int ISQLite3Provider.sqlite3_db_readonly(sqlite3 db, utf8z dbName) => _inner.sqlite3_db_readonly(db, dbName);
    utf8z ISQLite3Provider.sqlite3_db_filename(sqlite3 db, utf8z att) => _inner.sqlite3_db_filename(db, att);
    utf8z ISQLite3Provider.sqlite3_errmsg(sqlite3 db) => _inner.sqlite3_errmsg(db);
    long ISQLite3Provider.sqlite3_last_insert_rowid(sqlite3 db) => _inner.sqlite3_last_insert_rowid(db);
    int ISQLite3Provider.sqlite3_changes(sqlite3 db) => _inner.sqlite3_changes(db);
    int ISQLite3Provider.sqlite3_total_changes(sqlite3 db) => _inner.sqlite3_total_changes(db);
    int ISQLite3Provider.sqlite3_get_autocommit(sqlite3 db) => _inner.sqlite3_get_autocommit(db);
    int ISQLite3Provider.sqlite3_busy_timeout(sqlite3 db, int ms) => _inner.sqlite3_busy_timeout(db, ms);
    int ISQLite3Provider.sqlite3_extended_result_codes(sqlite3 db, int onoff) => _inner.sqlite3_extended_result_codes(db, onoff);
    int ISQLite3Provider.sqlite3_errcode(sqlite3 db) => _inner.sqlite3_errcode(db);
    int ISQLite3Provider.sqlite3_extended_errcode(sqlite3 db) => _inner.sqlite3_extended_errcode(db);
    utf8z ISQLite3Provider.sqlite3_errstr(int rc) => _inner.sqlite3_errstr(rc);
    int ISQLite3Provider.sqlite3_step(sqlite3_stmt stmt) => _inner.sqlite3_step(stmt);
    int ISQLite3Provider.sqlite3_reset(sqlite3_stmt stmt) => _inner.sqlite3_reset(stmt);
    int ISQLite3Provider.sqlite3_clear_bindings(sqlite3_stmt stmt) => _inner.sqlite3_clear_bindings(stmt);
    int ISQLite3Provider.sqlite3_stmt_status(sqlite3_stmt stmt, int op, int resetFlg) => _inner.sqlite3_stmt_status(stmt, op, resetFlg);
    utf8z ISQLite3Provider.sqlite3_sql(sqlite3_stmt stmt) => _inner.sqlite3_sql(stmt);
    IntPtr ISQLite3Provider.sqlite3_db_handle(IntPtr stmt) => _inner.sqlite3_db_handle(stmt);
    int ISQLite3Provider.sqlite3_bind_zeroblob(sqlite3_stmt stmt, int index, int size) => _inner.sqlite3_bind_zeroblob(stmt, index, size);
    utf8z ISQLite3Provider.sqlite3_bind_parameter_name(sqlite3_stmt stmt, int index) => _inner.sqlite3_bind_parameter_name(stmt, index);
    int ISQLite3Provider.sqlite3_bind_blob(sqlite3_stmt stmt, int index, ReadOnlySpan<byte> blob)
        => _inner.sqlite3_bind_blob(stmt, index, blob);
    int ISQLite3Provider.sqlite3_bind_double(sqlite3_stmt stmt, int index, double val) => _inner.sqlite3_bind_double(stmt, index, val);
    int ISQLite3Provider.sqlite3_bind_int(sqlite3_stmt stmt, int index, int val) => _inner.sqlite3_bind_int(stmt, index, val);
    int ISQLite3Provider.sqlite3_bind_int64(sqlite3_stmt stmt, int index, long val) => _inner.sqlite3_bind_int64(stmt, index, val);
    int ISQLite3Provider.sqlite3_bind_null(sqlite3_stmt stmt, int index) => _inner.sqlite3_bind_null(stmt, index);
    int ISQLite3Provider.sqlite3_bind_text(sqlite3_stmt stmt, int index, ReadOnlySpan<byte> text)
        => _inner.sqlite3_bind_text(stmt, index, text);
    int ISQLite3Provider.sqlite3_bind_text16(sqlite3_stmt stmt, int index, ReadOnlySpan<char> text)
        => _inner.sqlite3_bind_text16(stmt, index, text);
    int ISQLite3Provider.sqlite3_bind_text(sqlite3_stmt stmt, int index, utf8z text) => _inner.sqlite3_bind_text(stmt, index, text);
    int ISQLite3Provider.sqlite3_bind_parameter_count(sqlite3_stmt stmt) => _inner.sqlite3_bind_parameter_count(stmt);
    int ISQLite3Provider.sqlite3_bind_parameter_index(sqlite3_stmt stmt, utf8z strName)
        => _inner.sqlite3_bind_parameter_index(stmt, strName);
    utf8z ISQLite3Provider.sqlite3_column_database_name(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_database_name(stmt, index);
    utf8z ISQLite3Provider.sqlite3_column_name(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_name(stmt, index);
    utf8z ISQLite3Provider.sqlite3_column_origin_name(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_origin_name(stmt, index);
    utf8z ISQLite3Provider.sqlite3_column_table_name(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_table_name(stmt, index);
    utf8z ISQLite3Provider.sqlite3_column_text(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_text(stmt, index);
    int ISQLite3Provider.sqlite3_data_count(sqlite3_stmt stmt) => _inner.sqlite3_data_count(stmt);
    int ISQLite3Provider.sqlite3_column_count(sqlite3_stmt stmt) => _inner.sqlite3_column_count(stmt);
    double ISQLite3Provider.sqlite3_column_double(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_double(stmt, index);
    int ISQLite3Provider.sqlite3_column_int(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_int(stmt, index);
    long ISQLite3Provider.sqlite3_column_int64(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_int64(stmt, index);
    ReadOnlySpan<byte> ISQLite3Provider.sqlite3_column_blob(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_blob(stmt, index);
    int ISQLite3Provider.sqlite3_column_bytes(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_bytes(stmt, index);
    int ISQLite3Provider.sqlite3_column_type(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_type(stmt, index);
    utf8z ISQLite3Provider.sqlite3_column_decltype(sqlite3_stmt stmt, int index) => _inner.sqlite3_column_decltype(stmt, index);
    int ISQLite3Provider.sqlite3_snapshot_get(sqlite3 db, utf8z schema, out IntPtr snap)
        => _inner.sqlite3_snapshot_get(db, schema, out snap);
    int ISQLite3Provider.sqlite3_snapshot_cmp(sqlite3_snapshot p1, sqlite3_snapshot p2) => _inner.sqlite3_snapshot_cmp(p1, p2);
    int ISQLite3Provider.sqlite3_snapshot_open(sqlite3 db, utf8z schema, sqlite3_snapshot snap)
        => _inner.sqlite3_snapshot_open(db, schema, snap);
    int ISQLite3Provider.sqlite3_snapshot_recover(sqlite3 db, utf8z name) => _inner.sqlite3_snapshot_recover(db, name);
    void ISQLite3Provider.sqlite3_snapshot_free(IntPtr snap) => _inner.sqlite3_snapshot_free(snap);
    sqlite3_backup ISQLite3Provider.sqlite3_backup_init(sqlite3 destDb, utf8z destName, sqlite3 sourceDb, utf8z sourceName)
        => _inner.sqlite3_backup_init(destDb, destName, sourceDb, sourceName);
    int ISQLite3Provider.sqlite3_backup_step(sqlite3_backup backup, int nPage) => _inner.sqlite3_backup_step(backup, nPage);
    int ISQLite3Provider.sqlite3_backup_remaining(sqlite3_backup backup) => _inner.sqlite3_backup_remaining(backup);
    int ISQLite3Provider.sqlite3_backup_pagecount(sqlite3_backup backup) => _inner.sqlite3_backup_pagecount(backup);
    int ISQLite3Provider.sqlite3_backup_finish(IntPtr backup) => _inner.sqlite3_backup_finish(backup);
    int ISQLite3Provider.sqlite3_blob_open(
        sqlite3 db, utf8z db_utf8, utf8z table_utf8, utf8z col_utf8, long rowid, int flags, out sqlite3_blob blob)
        => _inner.sqlite3_blob_open(db, db_utf8, table_utf8, col_utf8, rowid, flags, out blob);
    int ISQLite3Provider.sqlite3_blob_bytes(sqlite3_blob blob) => _inner.sqlite3_blob_bytes(blob);
    int ISQLite3Provider.sqlite3_blob_reopen(sqlite3_blob blob, long rowid) => _inner.sqlite3_blob_reopen(blob, rowid);
    int ISQLite3Provider.sqlite3_blob_write(sqlite3_blob blob, ReadOnlySpan<byte> b, int offset)
        => _inner.sqlite3_blob_write(blob, b, offset);
    int ISQLite3Provider.sqlite3_blob_read(sqlite3_blob blob, Span<byte> b, int offset) => _inner.sqlite3_blob_read(blob, b, offset);
    int ISQLite3Provider.sqlite3_blob_close(IntPtr blob) => _inner.sqlite3_blob_close(blob);
    int ISQLite3Provider.sqlite3_config_log(delegate_log func, object v) => _inner.sqlite3_config_log(func, v);
    void ISQLite3Provider.sqlite3_log(int errcode, utf8z s) => _inner.sqlite3_log(errcode, s);
    void ISQLite3Provider.sqlite3_commit_hook(sqlite3 db, delegate_commit func, object v) => _inner.sqlite3_commit_hook(db, func, v);
    void ISQLite3Provider.sqlite3_rollback_hook(sqlite3 db, delegate_rollback func, object v)
        => _inner.sqlite3_rollback_hook(db, func, v);
    void ISQLite3Provider.sqlite3_trace(sqlite3 db, delegate_trace func, object v) => _inner.sqlite3_trace(db, func, v);
    void ISQLite3Provider.sqlite3_profile(sqlite3 db, delegate_profile func, object v) => _inner.sqlite3_profile(db, func, v);
    void ISQLite3Provider.sqlite3_progress_handler(sqlite3 db, int instructions, delegate_progress func, object v)
        => _inner.sqlite3_progress_handler(db, instructions, func, v);
    void ISQLite3Provider.sqlite3_update_hook(sqlite3 db, delegate_update func, object v) => _inner.sqlite3_update_hook(db, func, v);
    int ISQLite3Provider.sqlite3_create_collation(sqlite3 db, byte[] name, object v, delegate_collation func)
        => _inner.sqlite3_create_collation(db, name, v, func);
    int ISQLite3Provider.sqlite3_create_function(sqlite3 db, byte[] name, int nArg, int flags, object v, delegate_function_scalar func)
        => _inner.sqlite3_create_function(db, name, nArg, flags, v, func);
    int ISQLite3Provider.sqlite3_create_function(
        sqlite3 db, byte[] name, int nArg, int flags, object v, delegate_function_aggregate_step func_step,
        delegate_function_aggregate_final func_final)
        => _inner.sqlite3_create_function(db, name, nArg, flags, v, func_step, func_final);
    int ISQLite3Provider.sqlite3_db_status(sqlite3 db, int op, out int current, out int highest, int resetFlg)
        => _inner.sqlite3_db_status(db, op, out current, out highest, resetFlg);
    void ISQLite3Provider.sqlite3_result_blob(IntPtr context, ReadOnlySpan<byte> val) => _inner.sqlite3_result_blob(context, val);
    void ISQLite3Provider.sqlite3_result_double(IntPtr context, double val) => _inner.sqlite3_result_double(context, val);
    void ISQLite3Provider.sqlite3_result_error(IntPtr context, ReadOnlySpan<byte> strErr) => _inner.sqlite3_result_error(context, strErr);
    void ISQLite3Provider.sqlite3_result_error(IntPtr context, utf8z strErr) => _inner.sqlite3_result_error(context, strErr);
    void ISQLite3Provider.sqlite3_result_int(IntPtr context, int val) => _inner.sqlite3_result_int(context, val);
    void ISQLite3Provider.sqlite3_result_int64(IntPtr context, long val) => _inner.sqlite3_result_int64(context, val);
    void ISQLite3Provider.sqlite3_result_null(IntPtr context) => _inner.sqlite3_result_null(context);
    void ISQLite3Provider.sqlite3_result_text(IntPtr context, ReadOnlySpan<byte> val) => _inner.sqlite3_result_text(context, val);
    void ISQLite3Provider.sqlite3_result_text(IntPtr context, utf8z val) => _inner.sqlite3_result_text(context, val);
    void ISQLite3Provider.sqlite3_result_zeroblob(IntPtr context, int n) => _inner.sqlite3_result_zeroblob(context, n);
    void ISQLite3Provider.sqlite3_result_error_toobig(IntPtr context) => _inner.sqlite3_result_error_toobig(context);
    void ISQLite3Provider.sqlite3_result_error_nomem(IntPtr context) => _inner.sqlite3_result_error_nomem(context);
    void ISQLite3Provider.sqlite3_result_error_code(IntPtr context, int code) => _inner.sqlite3_result_error_code(context, code);
    ReadOnlySpan<byte> ISQLite3Provider.sqlite3_value_blob(IntPtr p) => _inner.sqlite3_value_blob(p);
    int ISQLite3Provider.sqlite3_value_bytes(IntPtr p) => _inner.sqlite3_value_bytes(p);
    double ISQLite3Provider.sqlite3_value_double(IntPtr p) => _inner.sqlite3_value_double(p);
    int ISQLite3Provider.sqlite3_value_int(IntPtr p) => _inner.sqlite3_value_int(p);
    long ISQLite3Provider.sqlite3_value_int64(IntPtr p) => _inner.sqlite3_value_int64(p);
    int ISQLite3Provider.sqlite3_value_type(IntPtr p) => _inner.sqlite3_value_type(p);
    utf8z ISQLite3Provider.sqlite3_value_text(IntPtr p) => _inner.sqlite3_value_text(p);
    int ISQLite3Provider.sqlite3_stmt_isexplain(sqlite3_stmt stmt) => _inner.sqlite3_stmt_isexplain(stmt);
    int ISQLite3Provider.sqlite3_stmt_busy(sqlite3_stmt stmt) => _inner.sqlite3_stmt_busy(stmt);
    int ISQLite3Provider.sqlite3_stmt_readonly(sqlite3_stmt stmt) => _inner.sqlite3_stmt_readonly(stmt);
    int ISQLite3Provider.sqlite3_exec(sqlite3 db, utf8z sql, delegate_exec callback, object user_data, out IntPtr errMsg)
        => _inner.sqlite3_exec(db, sql, callback, user_data, out errMsg);
    int ISQLite3Provider.sqlite3_complete(utf8z sql) => _inner.sqlite3_complete(sql);
    int ISQLite3Provider.sqlite3_compileoption_used(utf8z sql) => _inner.sqlite3_compileoption_used(sql);
    utf8z ISQLite3Provider.sqlite3_compileoption_get(int n) => _inner.sqlite3_compileoption_get(n);
    int ISQLite3Provider.sqlite3_wal_autocheckpoint(sqlite3 db, int n) => _inner.sqlite3_wal_autocheckpoint(db, n);
    int ISQLite3Provider.sqlite3_wal_checkpoint(sqlite3 db, utf8z dbName) => _inner.sqlite3_wal_checkpoint(db, dbName);
    int ISQLite3Provider.sqlite3_wal_checkpoint_v2(sqlite3 db, utf8z dbName, int eMode, out int logSize, out int framesCheckPointed)
        => _inner.sqlite3_wal_checkpoint_v2(db, dbName, eMode, out logSize, out framesCheckPointed);
    int ISQLite3Provider.sqlite3_table_column_metadata(
        sqlite3 db, utf8z dbName, utf8z tblName, utf8z colName, out utf8z dataType, out utf8z collSeq, out int notNull, out int primaryKey,
        out int autoInc)
        => _inner.sqlite3_table_column_metadata(
            db, dbName, tblName, colName, out dataType, out collSeq, out notNull, out primaryKey, out autoInc);
    int ISQLite3Provider.sqlite3_set_authorizer(sqlite3 db, delegate_authorizer authorizer, object user_data)
        => _inner.sqlite3_set_authorizer(db, authorizer, user_data);
    int ISQLite3Provider.sqlite3_stricmp(IntPtr p, IntPtr q) => _inner.sqlite3_stricmp(p, q);
    int ISQLite3Provider.sqlite3_strnicmp(IntPtr p, IntPtr q, int n) => _inner.sqlite3_strnicmp(p, q, n);
    IntPtr ISQLite3Provider.sqlite3_malloc(int n) => _inner.sqlite3_malloc(n);
    IntPtr ISQLite3Provider.sqlite3_malloc64(long n) => _inner.sqlite3_malloc64(n);
    void ISQLite3Provider.sqlite3_free(IntPtr p) => _inner.sqlite3_free(p);
    int ISQLite3Provider.sqlite3_key(sqlite3 db, ReadOnlySpan<byte> key) => _inner.sqlite3_key(db, key);
    int ISQLite3Provider.sqlite3_key_v2(sqlite3 db, utf8z dbname, ReadOnlySpan<byte> key) => _inner.sqlite3_key_v2(db, dbname, key);
    int ISQLite3Provider.sqlite3_rekey(sqlite3 db, ReadOnlySpan<byte> key) => _inner.sqlite3_rekey(db, key);
    int ISQLite3Provider.sqlite3_rekey_v2(sqlite3 db, utf8z dbname, ReadOnlySpan<byte> key) => _inner.sqlite3_rekey_v2(db, dbname, key);
    int ISQLite3Provider.sqlite3_load_extension(sqlite3 db, utf8z zFile, utf8z zProc, out utf8z pzErrMsg)
        => _inner.sqlite3_load_extension(db, zFile, zProc, out pzErrMsg);
    int ISQLite3Provider.sqlite3_initialize() => _inner.sqlite3_initialize();
    int ISQLite3Provider.sqlite3_shutdown() => _inner.sqlite3_shutdown();
    int ISQLite3Provider.sqlite3_limit(sqlite3 db, int id, int newVal) => _inner.sqlite3_limit(db, id, newVal);
    int ISQLite3Provider.sqlite3_config(int op) => _inner.sqlite3_config(op);
    int ISQLite3Provider.sqlite3_config(int op, int val) => _inner.sqlite3_config(op, val);
    int ISQLite3Provider.sqlite3_db_config(sqlite3 db, int op, utf8z val) => _inner.sqlite3_db_config(db, op, val);
    int ISQLite3Provider.sqlite3_db_config(sqlite3 db, int op, int val, out int result)
        => _inner.sqlite3_db_config(db, op, val, out result);
    int ISQLite3Provider.sqlite3_db_config(sqlite3 db, int op, IntPtr ptr, int int0, int int1)
        => _inner.sqlite3_db_config(db, op, ptr, int0, int1);
    int ISQLite3Provider.sqlite3_enable_load_extension(sqlite3 db, int enable) => _inner.sqlite3_enable_load_extension(db, enable);
    int ISQLite3Provider.sqlite3_win32_set_directory(int typ, utf8z path) => _inner.sqlite3_win32_set_directory(typ, path);
    int ISQLite3Provider.sqlite3_keyword_count() => _inner.sqlite3_keyword_count();
    int ISQLite3Provider.sqlite3_keyword_name(int i, out string name) => _inner.sqlite3_keyword_name(i, out name);
    IntPtr ISQLite3Provider.sqlite3_serialize(sqlite3 db, utf8z schema, out long size, int flags)
        => _inner.sqlite3_serialize(db, schema, out size, flags);
    int ISQLite3Provider.sqlite3_deserialize(sqlite3 db, utf8z schema, IntPtr data, long szDb, long szBuf, int flags)
        => _inner.sqlite3_deserialize(db, schema, data, szDb, szBuf, flags);
}
