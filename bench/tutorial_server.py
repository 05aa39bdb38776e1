# The tutorial's server (seed/tcp-socket-tutorial.txt, part 3), rebound to
# loopback for `make bench`: one client at a time, recv(1024) -> print -> ack.
# Two changes only: the address comes from argv, and the ack ends with "\n"
# so line-based load generators can tell acks apart.
import socket
import sys


def server():
    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp_server_socket.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    tcp_server_socket.listen(128)
    print('listening on 127.0.0.1:%d' % tcp_server_socket.getsockname()[1], flush=True)
    while True:
        new_socket_server, new_socket_adress = tcp_server_socket.accept()
        while True:
            tcp_data = new_socket_server.recv(1024)
            print('客户端发来的消息:%s' % tcp_data.decode('gbk', errors='replace'))
            if tcp_data:
                new_socket_server.send('已收到\n'.encode('utf-8'))
            else:
                break
        new_socket_server.close()


if __name__ == '__main__':
    server()
