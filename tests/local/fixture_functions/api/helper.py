WHO = "api"
