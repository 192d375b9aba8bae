module example.com/iam-token

go 1.19
