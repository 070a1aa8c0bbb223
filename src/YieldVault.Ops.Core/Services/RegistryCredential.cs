using System;
using System.Security;

namespace YieldVault.Ops;

/// <summary>A user name and password (or token) for a container registry: Invoke-VaultDeployment -RegistryCredential.</summary>
public sealed class RegistryCredential
{
    public RegistryCredential(string userName, SecureString password)
    {
        UserName = string.IsNullOrEmpty(userName) ? throw new ArgumentException("A registry credential needs a user name.", nameof(userName)) : userName;
        Password = password ?? throw new ArgumentNullException(nameof(password));
    }

    public string UserName { get; }

    public SecureString Password { get; }

    public override string ToString() => UserName;
}
