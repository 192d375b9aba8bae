module github.com/iam-db-auth/iam-db-auth/bindings/go

go 1.19

require (
	github.com/go-sql-driver/mysql v1.5.0
	github.com/jackc/pgx/v4 v4.15.0
)
