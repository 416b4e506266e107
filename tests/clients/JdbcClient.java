// What a JDBC tool (DBeaver, Metabase, Tableau, DataGrip) asks a gridsql
// PostgreSQL-wire server through pgjdbc, the Debian package's driver:
// the DatabaseMetaData calls their navigators make, then one query.
//
//     java -cp /usr/share/java/postgresql.jar tests/clients/JdbcClient.java URL USER TABLE SQL
//
// Prints one JSON object: {"call": {"rows": [[...], ...]} | {"error": "..."}}, where a call's rows
// are the columns the test reads (names, type names), and "query" is SQL's rows as strings.
// Java's single-file launcher runs it: no build step.

import java.sql.*;
import java.util.*;

public class JdbcClient {
    interface Call {
        ResultSet run(DatabaseMetaData md) throws SQLException;
    }

    static String json(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
            }
        }
        return b.append('"').toString();
    }

    static String rows(ResultSet rs, String[] columns) throws SQLException {
        StringBuilder b = new StringBuilder("[");
        boolean first = true;
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            if (!first) b.append(',');
            first = false;
            b.append('[');
            if (columns == null) {
                for (int i = 1; i <= n; i++) {
                    if (i > 1) b.append(',');
                    b.append(json(rs.getString(i)));
                }
            } else {
                for (int i = 0; i < columns.length; i++) {
                    if (i > 0) b.append(',');
                    b.append(json(rs.getString(columns[i])));
                }
            }
            b.append(']');
        }
        return b.append(']').toString();
    }

    public static void main(String[] args) throws Exception {
        String url = args[0], user = args[1], table = args[2], sql = args[3];
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("connectTimeout", "20");
        Map<String, String> out = new LinkedHashMap<>();
        try (Connection conn = DriverManager.getConnection(url, p)) {
            DatabaseMetaData md = conn.getMetaData();
            out.put("product", "{\"rows\":[[" + json(md.getDatabaseProductName()) + ","
                    + json(md.getDatabaseProductVersion()) + "]]}");
            Object[][] calls = {
                {"schemas", (Call) m -> m.getSchemas(), new String[] {"TABLE_SCHEM"}},
                {"tables", (Call) m -> m.getTables(null, "public", "%", new String[] {"TABLE"}),
                    new String[] {"TABLE_NAME", "TABLE_TYPE"}},
                {"columns", (Call) m -> m.getColumns(null, "public", table, "%"),
                    new String[] {"COLUMN_NAME", "TYPE_NAME", "DATA_TYPE"}},
                {"primary_keys", (Call) m -> m.getPrimaryKeys(null, "public", table),
                    new String[] {"COLUMN_NAME"}},
                {"index_info", (Call) m -> m.getIndexInfo(null, "public", table, false, true),
                    new String[] {"INDEX_NAME"}},
                {"imported_keys", (Call) m -> m.getImportedKeys(null, "public", table),
                    new String[] {"FKCOLUMN_NAME"}},
                {"exported_keys", (Call) m -> m.getExportedKeys(null, "public", table),
                    new String[] {"FKCOLUMN_NAME"}},
                {"type_info", (Call) m -> m.getTypeInfo(), new String[] {"TYPE_NAME", "DATA_TYPE"}},
                {"functions", (Call) m -> m.getFunctions(null, "public", "%"),
                    new String[] {"FUNCTION_NAME"}},
            };
            for (Object[] c : calls) {
                String name = (String) c[0];
                try (ResultSet rs = ((Call) c[1]).run(md)) {
                    out.put(name, "{\"rows\":" + rows(rs, (String[]) c[2]) + "}");
                } catch (SQLException e) {
                    out.put(name, "{\"error\":" + json(e.getMessage()) + "}");
                }
            }
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
                out.put("query", "{\"rows\":" + rows(rs, null) + "}");
            } catch (SQLException e) {
                out.put("query", "{\"error\":" + json(e.getMessage()) + "}");
            }
        } catch (SQLException e) {
            out.put("connect", "{\"error\":" + json(e.getMessage()) + "}");
        }
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, String> e : out.entrySet()) {
            if (!first) b.append(',');
            first = false;
            b.append(json(e.getKey())).append(':').append(e.getValue());
        }
        System.out.println(b.append('}'));
    }
}
