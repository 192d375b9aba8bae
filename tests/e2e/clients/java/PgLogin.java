// An ordinary JDBC program on pgjdbc (Debian's libpostgresql-jdbc-java), unaware of IAM: connects
// with the JDBC URL given (no password), runs one query, prints "<current_user> <ssl upstream>".
// Run as a single source file: java -cp /usr/share/java/postgresql.jar PgLogin.java URL
// Exit 1 with the driver's message and SQLSTATE on failure.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public class PgLogin {
    public static void main(String[] args) {
        try (Connection conn = DriverManager.getConnection(args[0]);
             Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery(
                 "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
            rs.next();
            System.out.println(rs.getString(1));
        } catch (SQLException e) {
            System.err.println("pgjdbc: " + e.getSQLState() + " " + e.getMessage());
            System.exit(1);
        }
    }
}
